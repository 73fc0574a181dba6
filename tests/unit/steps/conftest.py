"""In-memory mappings and fakes for the step modules' rules (no files, no HTTP)."""

from __future__ import annotations

from typing import Any

from hubspot_sync.mapping import EntityMapping


def mapping(**overrides: Any) -> EntityMapping:
    """A members -> contacts mapping, with ``overrides`` of its top-level keys."""
    data: dict[str, Any] = {
        "entity": "members",
        "source": {"system": "officernd", "resource": "members"},
        "filter": {"status": ["active", "former"]},
        "hubspot": {"object": "contacts", "match_on": ["email"]},
        "properties": [{"from": "email", "to": "email"},
                       {"from": "name", "to": "firstname"}],
        "associations": [{"to": "companies", "via": "company", "type": "primary"}],
    }
    data.update(overrides)
    return EntityMapping.model_validate(data)


class FakeWarehouse:
    """Records what a step asks the warehouse to store."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):
        def record(*args: Any, **kwargs: Any) -> int:
            self.calls.append((name, args, kwargs))
            return 0
        return record


def rec(hid: str, **props: str) -> dict:
    """A HubSpot record as the hook returns it."""
    return {"id": hid, "properties": props}
