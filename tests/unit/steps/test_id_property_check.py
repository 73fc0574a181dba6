"""ensure_properties: the id property must be unique-valued, checked before any write."""

from __future__ import annotations

from typing import Any

import pytest

from hubspot_sync.steps.context import ConfigurationError, EntityRun
from hubspot_sync.steps.properties import check_id_property, ensure_properties

from .conftest import mapping

EXISTING = {"email": {"name": "email", "type": "string", "hasUniqueValue": False},
            "firstname": {"name": "firstname", "type": "string"}}


def test_missing_or_unique_id_property_passes_a_non_unique_one_fails() -> None:
    check_id_property(mapping(), EXISTING)  # missing: ensure_properties creates it unique
    check_id_property(mapping(), {**EXISTING, "officernd_id": {"hasUniqueValue": True}})
    for definition in ({"hasUniqueValue": False}, {}):
        with pytest.raises(ConfigurationError, match="officernd_id of HubSpot contacts exists "
                                                     "but is not unique-valued"):
            check_id_property(mapping(), {**EXISTING, "officernd_id": definition})


class SchemaHook:
    call_count = 0

    def __init__(self, existing: dict[str, dict]) -> None:
        self.existing = existing

    def get_properties(self, object_type: str) -> dict[str, dict]:
        return self.existing

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"ensure_properties called {name} after the check failed")


def test_ensure_properties_fails_before_any_write_and_says_how_to_fix(monkeypatch) -> None:
    monkeypatch.setenv("SYNC_SCHEMA_CHECK_HOURS", "0")  # no remembered schema: no warehouse
    hook = SchemaHook({**EXISTING, "officernd_id": {"name": "officernd_id",
                                                    "hasUniqueValue": False}})
    typed = mapping(properties=[{"from": "email", "to": "email"},
                                {"from": "size", "to": "size", "type": "number"}])
    run = EntityRun(mapping=typed, run_id="r1", _hook=hook)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as caught:
        ensure_properties(run)
    message = str(caught.value)
    assert "archive officernd_id in HubSpot" in message and "Nothing was written" in message
