"""A local, stateful stand-in for the OfficeRnD Flex API v2 (see docs/officernd-sandbox.md).

    from sandbox.officernd import OfficeRnDSandbox
    with OfficeRnDSandbox(port=0, seed=42, scale=500) as sb:
        requests.post(f"{sb.url}/oauth/token", data={...})
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox._server import ServedSandbox
from sandbox.officernd.api import create_app
from sandbox.officernd.errors import ApiError
from sandbox.officernd.faults import Faults
from sandbox.officernd.limits import Limits
from sandbox.officernd.state import State

__all__ = ["ApiError", "OfficeRnDSandbox", "State"]


class OfficeRnDSandbox(ServedSandbox):
    """The OfficeRnD sandbox served on a background thread (tests, benchmarks, demos)."""

    def __init__(self, port: int = 0, seed: int = 42, scale: int = 500,
                 anchor: datetime | None = None, client_id: str = "sandbox-client",
                 client_secret: str = "sandbox-secret", org: str = "sandbox",
                 rate_limit: int = 400, token_rate_limit: int = 5,
                 state_file: str | Path | None = None, host: str = "127.0.0.1",
                 write_access: bool = True) -> None:
        self.state = State(seed=seed, scale=scale, anchor=anchor, client_id=client_id,
                           client_secret=client_secret, org=org, state_file=state_file,
                           write_access=write_access)
        self.limits = Limits(rate_limit=rate_limit, token_rate_limit=token_rate_limit)
        self.faults = Faults()
        self.app = create_app(self.state, self.limits, self.faults)
        self.host = host
        self.port = port
        self.org = org
        self.client_id = client_id
        self.client_secret = client_secret

    def close(self) -> None:
        self.state.close()

    @property
    def api_url(self) -> str:
        """Base of the v2 API for this organisation."""
        return f"{self.url}/api/v2/organizations/{self.org}"

    # activity -------------------------------------------------------------
    def mutate(self, resource: str = "members", update: int = 10, create: int = 0,
               delete: int = 0, seed: int | None = None) -> dict[str, list[str]]:
        return self.state.mutate(resource=resource, update=update, create=create,
                                 delete=delete, seed=seed)

    def set_clock(self, value: datetime | str) -> str:
        return self.state.set_clock(value)

    def advance_clock(self, seconds: float) -> str:
        return self.state.advance_clock(seconds)

    def now(self) -> datetime:
        return self.state.now()

    def anomalies(self) -> dict[str, dict[str, list[str]]]:
        return self.state.anomalies()

    def expire_tokens(self) -> int:
        return self.state.expire_tokens()

    def reset(self) -> None:
        self.state.reset()
        self.limits.clear()
        self.faults.clear()

    def patch_record(self, resource: str, rid: str, fields: dict[str, Any]) -> dict:
        return self.state.patch_record(resource, rid, fields)

    def insert_record(self, resource: str, fields: dict[str, Any]) -> dict:
        return self.state.insert_record(resource, fields)

    def user_edit(self, resource: str, rid: str, fields: dict[str, Any]) -> dict:
        """Change a record as a person in the OfficeRnD UI would (stamps ``modifiedAt``)."""
        return self.state.patch_record(resource, rid, fields)

    def write_counts(self) -> dict[str, dict[str, int]]:
        """API writes by resource: ``{"members": {"created": n, "updated": n, "refused": n}}``."""
        return {r: dict(c) for r, c in self.state.write_counts.items()}

    def insert_raw(self, resource: str, records: list[dict]) -> list[str]:
        """Store records exactly as given (malformed data); returns their keys."""
        return self.state.insert_raw(resource, records)

    def set_faults(self, cursor_loop: bool | list[str] | None = None,
                   latency_ms: float | None = None, latency_p95_ms: float | None = None,
                   seed: Any = None) -> dict[str, Any]:
        """Switch injected faults (``None`` = unchanged); returns the faults' state.
        ``latency_ms`` / ``latency_p95_ms``: as the HubSpot sandbox's (median, and the 95th
        percentile of a lognormal draw seeded by ``seed``)."""
        return self.faults.configure(cursor_loop=cursor_loop, latency_ms=latency_ms,
                                     latency_p95_ms=latency_p95_ms, seed=seed)

    configure_faults = set_faults  # the HubSpot sandbox's name for the same thing
