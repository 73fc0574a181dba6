"""Injected faults of the HubSpot sandbox, configured through ``POST /_sandbox/faults``,
``HubSpotSandbox(faults={...})`` / ``configure_faults(...)`` or ``--faults JSON``.

Two families (see docs/hubspot-sandbox.md):

- **before** the route, the state untouched: ``drop`` (connection closed, no answer) and
  ``error`` (an error status);
- **after** the route ran, so a write is applied: ``lost_error`` (an error status instead
  of the answer), ``lost_html`` (a 502 HTML gateway page), ``lost_drop`` (connection
  closed), ``hang`` (the answer is held ``hang_s`` seconds, past a client's timeout) and
  ``truncate`` (a 2xx answer cut short, invalid JSON).

Each kind has its own rate; per request at most one fault is injected, drawn from one
seeded generator in the order of :data:`KINDS`, so a seed replays the same sequence.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from sandbox._errors import ServiceError
from sandbox._latency import LatencyModel, LatencySettingsError

BEFORE_KINDS = ("drop", "error")
LOST_KINDS = ("lost_error", "lost_html", "lost_drop")
AFTER_KINDS = LOST_KINDS + ("hang", "truncate")
KINDS = BEFORE_KINDS + AFTER_KINDS
RATE_KEYS = {f"{kind}_rate": kind for kind in KINDS}
DEFAULT_STATUSES = [500, 502, 503, 504]
DEFAULT_LOST_STATUSES = [502, 504]
DEFAULT_HANG_S = 60.0
LOST_HTML_STATUS = 502


class FaultSettingsError(ServiceError, ValueError):
    """Bad fault settings: 400 ``{"status": "error", "message": ...}`` on the control route,
    a ``ValueError`` for Python callers."""

    def body(self) -> dict[str, Any]:
        return {"status": "error", "message": self.message}


def _number(cfg: dict[str, Any], key: str, default: float) -> float:
    try:
        return float(cfg.get(key, default) or 0)
    except (TypeError, ValueError) as exc:
        raise FaultSettingsError(f"{key} must be a number") from exc


def _statuses(cfg: dict[str, Any], key: str, default: list[int]) -> list[int]:
    try:
        out = [int(s) for s in (cfg.get(key) or default)]
    except (TypeError, ValueError) as exc:
        raise FaultSettingsError(f"{key} must be a list of HTTP status codes") from exc
    if not all(100 <= s <= 599 for s in out):
        raise FaultSettingsError(f"{key} must be HTTP status codes (100..599)")
    return out


class Faults:
    """The fault settings, the seeded generator that draws them and the injected counts."""

    KEYS = set(RATE_KEYS) | {"statuses", "lost_statuses", "latency_ms", "latency_p95_ms",
                             "hang_s", "seed", "refuse"}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._injected: Counter[str] = Counter()
        self.latency = LatencyModel()
        self.configure({})

    def configure(self, cfg: dict[str, Any]) -> dict:
        """Replace every setting (absent keys take their defaults); the counts are kept."""
        unknown = set(cfg) - self.KEYS
        if unknown:
            raise FaultSettingsError(f"unknown fault settings: {sorted(unknown)}")
        rates = {kind: _number(cfg, key, 0) for key, kind in RATE_KEYS.items()}
        bad = sorted(k for k, kind in RATE_KEYS.items() if not 0 <= rates[kind] <= 1)
        if bad:
            raise FaultSettingsError(f"{', '.join(bad)} must be between 0 and 1")
        hang_s = _number(cfg, "hang_s", DEFAULT_HANG_S)
        latency_ms = _number(cfg, "latency_ms", 0)
        if hang_s < 0 or latency_ms < 0:
            raise FaultSettingsError("hang_s and latency_ms must not be negative")
        latency = LatencyModel()
        try:
            latency.configure(latency_ms, cfg.get("latency_p95_ms"), cfg.get("seed"))
        except LatencySettingsError as exc:
            raise FaultSettingsError(str(exc)) from exc
        refuse = cfg.get("refuse") or []
        if not isinstance(refuse, list) or not all(
                isinstance(r, dict) and "property" in r and "equals" in r for r in refuse):
            raise FaultSettingsError("each refuse rule needs 'property' and 'equals'")
        statuses = _statuses(cfg, "statuses", DEFAULT_STATUSES)
        lost_statuses = _statuses(cfg, "lost_statuses", DEFAULT_LOST_STATUSES)
        with self._lock:
            self.rates = rates
            self.statuses = statuses
            self.lost_statuses = lost_statuses
            self.latency_ms = latency_ms
            self.latency = latency
            self.hang_s = hang_s
            self.seed = cfg.get("seed")
            self.refuse_rules = [{"property": str(r["property"]), "equals": r["equals"]}
                                 for r in refuse]
            self._rng = random.Random(self.seed)
        return self.describe()

    def clear(self) -> None:
        self.configure({})

    def describe(self) -> dict:
        out: dict[str, Any] = {key: self.rates[kind] for key, kind in RATE_KEYS.items()}
        out.update({"statuses": self.statuses, "lost_statuses": self.lost_statuses,
                    "latency_ms": self.latency_ms,
                    "latency_p95_ms": self.latency.p95_ms, "hang_s": self.hang_s, "seed": self.seed,
                    "refuse": self.refuse_rules})
        return out

    def decide(self) -> tuple[str | None, int | None]:
        """(kind, status) of the fault to inject into one CRM request, or (None, None).

        Only kinds with a rate draw, in the order of ``KINDS``, so the sequence of a seed
        with only ``drop_rate`` / ``error_rate`` set is what it always was."""
        with self._lock:
            for kind in KINDS:
                rate = self.rates[kind]
                if rate and self._rng.random() < rate:
                    if kind == "error":
                        return kind, self._rng.choice(self.statuses)
                    if kind == "lost_error":
                        return kind, self._rng.choice(self.lost_statuses)
                    return kind, LOST_HTML_STATUS if kind == "lost_html" else None
        return None, None

    def count(self, kind: str) -> None:
        """Record one fault of ``kind`` as injected (called when it reached the client)."""
        with self._lock:
            self._injected[kind] += 1

    def injected(self) -> dict[str, int]:
        """Faults injected so far by kind (every kind listed), plus ``total``."""
        with self._lock:
            out = {kind: self._injected[kind] for kind in KINDS}
        out["total"] = sum(out.values())
        return out

    def reset_counts(self) -> None:
        with self._lock:
            self._injected.clear()

    def refusal(self, properties: dict[str, Any]) -> str | None:
        """Why a batch input is refused, or None."""
        for rule in self.refuse_rules:
            name = rule["property"]
            if name in properties and str(properties[name]) == str(rule["equals"]):
                return (f"Property values were not valid: input refused by the sandbox "
                        f"({name} = {rule['equals']!s})")
        return None
