"""A local, stateful stand-in for the HubSpot CRM API (see docs/hubspot-sandbox.md).

    from sandbox.hubspot import HubSpotSandbox
    with HubSpotSandbox(port=0) as sb:
        sb.url, sb.state, sb.stats(), sb.reset()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox._server import ServedSandbox
from sandbox._stats import RequestStats
from sandbox.hubspot.faults import Faults
from sandbox.hubspot.limits import RateLimiter
from sandbox.hubspot.state import HubSpotError, HubSpotState

__all__ = ["HubSpotSandbox", "HubSpotState", "HubSpotError", "build_app"]

DEFAULT_TOKEN = "sandbox-token"


class HubSpotSandbox(ServedSandbox):
    """State + HTTP server + limits in one object; ``start()`` serves it on a thread."""

    def __init__(self, port: int = 0, token: str = DEFAULT_TOKEN, burst_limit: int = 190,
                 search_limit: int = 5, daily_limit: int = 0, search_lag_ms: int = 0,
                 state_file: str | Path | None = None, host: str = "127.0.0.1",
                 faults: dict[str, Any] | None = None) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.state = HubSpotState(search_lag_ms=search_lag_ms)
        self.limiter = RateLimiter(burst_limit, search_limit, daily_limit)
        self.faults = Faults()
        # the settings given at start: configured now and restored by reset()
        self._start_faults = dict(faults or {})
        self.faults.configure(self._start_faults)
        self._stats = RequestStats()
        self._store = None
        if state_file:
            from sandbox.hubspot.models.persistence import SQLiteStore

            self._store = SQLiteStore(state_file)
            self._store.load(self.state)
            self.state.on_change = self._save
        self.app = build_app(self)

    def _save(self) -> None:
        if self._store is not None:
            self._store.save(self.state)

    def close(self) -> None:
        if self._store is not None:
            self._save()
            self._store.close()
            self._store = None

    # ---- sandbox control (same as the /_sandbox endpoints)

    def stats(self) -> dict:
        out = self._stats.snapshot()
        out["objects"] = self.state.counts()
        out["faults_injected"] = self.faults.injected()
        return out

    def reset(self) -> None:
        self.state.reset()
        self._stats.reset()
        self.faults.configure(self._start_faults)
        self.faults.reset_counts()
        self.limiter.reset()

    def configure_faults(self, **cfg: Any) -> dict:
        """Replace the fault settings (see docs/hubspot-sandbox.md); counts are kept."""
        return self.faults.configure(cfg)

    def user_edit(self, object_type: str, object_id: str | int,
                  properties: dict[str, Any]) -> dict:
        """Edit a record as a person in the HubSpot UI would (same rules as the API; the
        property history records sourceType CRM_UI; the last-modified date moves)."""
        return self.state.user_edit(object_type, str(object_id), properties)

    def user_create(self, object_type: str, properties: dict[str, Any],
                    associations: list[dict] | None = None) -> dict:
        """Create a record as a person in the HubSpot UI would (history source CRM_UI);
        ``associations`` as in ``POST /crm/v3/objects/{type}``. Returns the record."""
        return self.state.user_create(object_type, properties, associations)

    def faults_injected(self) -> dict[str, int]:
        """Faults injected since start / reset, by kind, plus ``total``."""
        return self.faults.injected()


def build_app(sb: HubSpotSandbox):
    """The ASGI app serving ``sb`` (FastAPI routes behind the auth / limits / faults gate)."""
    from sandbox.hubspot.api import create_app
    from sandbox.hubspot.gate import SandboxGate

    return SandboxGate(create_app(sb), sb)
