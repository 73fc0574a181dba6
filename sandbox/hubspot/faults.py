"""Injected faults of the HubSpot sandbox, configured through ``POST /_sandbox/faults``."""

from __future__ import annotations

import random
import threading
from typing import Any

from sandbox._errors import ServiceError


class FaultSettingsError(ServiceError, ValueError):
    """Bad fault settings: 400 ``{"status": "error", "message": ...}`` on the control route,
    a ``ValueError`` for Python callers."""

    def body(self) -> dict[str, Any]:
        return {"status": "error", "message": self.message}


class Faults:
    """Injected failures, configured through ``POST /_sandbox/faults``."""

    KEYS = {"error_rate", "statuses", "latency_ms", "drop_rate", "seed", "refuse"}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure({})

    def configure(self, cfg: dict[str, Any]) -> dict:
        unknown = set(cfg) - self.KEYS
        if unknown:
            raise FaultSettingsError(f"unknown fault settings: {sorted(unknown)}")
        try:
            error_rate = float(cfg.get("error_rate", 0) or 0)
            drop_rate = float(cfg.get("drop_rate", 0) or 0)
            statuses = [int(s) for s in (cfg.get("statuses") or [500, 502, 503, 504])]
            latency_ms = float(cfg.get("latency_ms", 0) or 0)
        except (TypeError, ValueError) as exc:
            raise FaultSettingsError(f"bad fault setting: {exc}") from exc
        if not (0 <= error_rate <= 1 and 0 <= drop_rate <= 1):
            raise FaultSettingsError("error_rate and drop_rate must be between 0 and 1")
        refuse = cfg.get("refuse") or []
        for rule in refuse:
            if not isinstance(rule, dict) or "property" not in rule or "equals" not in rule:
                raise FaultSettingsError("each refuse rule needs 'property' and 'equals'")
        with self._lock:
            self.error_rate = error_rate
            self.drop_rate = drop_rate
            self.statuses = statuses
            self.latency_ms = latency_ms
            self.seed = cfg.get("seed")
            self.refuse_rules = [{"property": str(r["property"]), "equals": r["equals"]}
                                 for r in refuse]
            self._rng = random.Random(self.seed)
        return self.describe()

    def clear(self) -> None:
        self.configure({})

    def describe(self) -> dict:
        return {"error_rate": self.error_rate, "statuses": self.statuses,
                "latency_ms": self.latency_ms, "drop_rate": self.drop_rate, "seed": self.seed,
                "refuse": self.refuse_rules}

    @property
    def active(self) -> bool:
        return bool(self.error_rate or self.drop_rate or self.latency_ms)

    def decide(self) -> tuple[str | None, int | None]:
        """('drop', None) / ('error', status) / (None, None) for one CRM request."""
        with self._lock:
            if self.drop_rate and self._rng.random() < self.drop_rate:
                return "drop", None
            if self.error_rate and self._rng.random() < self.error_rate:
                return "error", self._rng.choice(self.statuses)
        return None, None

    def refusal(self, properties: dict[str, Any]) -> str | None:
        """Why a batch input is refused, or None."""
        for rule in self.refuse_rules:
            name = rule["property"]
            if name in properties and str(properties[name]) == str(rule["equals"]):
                return (f"Property values were not valid: input refused by the sandbox "
                        f"({name} = {rule['equals']!s})")
        return None
