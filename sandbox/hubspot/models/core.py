"""What every part of the HubSpot state shares: the lock, object type names, and the
change tracking persistence reads (dirty sets, ``on_change``)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sandbox.hubspot import schema
from sandbox.hubspot.models.errors import validation_error


def resolve_type(name: str) -> str:
    """The object type a path segment names (``contacts``, ``0-1``, ``contact`` ...)."""
    key = name.strip().lower()
    for otype, tid in schema.OBJECT_TYPE_IDS.items():
        if key in (otype, tid, schema.SINGULAR[otype], otype.replace("_", ""),
                   schema.SINGULAR[otype].replace("_", "")):
            return otype
    raise validation_error(f"Unable to infer object type from: {name}")


class StateCore:
    """Base of the state's parts; ``HubSpotState`` composes them over one lock."""

    lock: threading.RLock
    on_change: Callable[[], None] | None
    resolve_type = staticmethod(resolve_type)

    def _init_tracking(self) -> None:
        # persistence bookkeeping (read by persistence.py)
        self.dirty_records: set[tuple[str, int]] = set()
        self.dirty_properties: set[tuple[str, str]] = set()
        self.dirty_assoc: set[tuple[str, int]] = set()
        self.dirty_meta = False
        self.cleared = False  # set by reset(): the persisted copy must be wiped

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
