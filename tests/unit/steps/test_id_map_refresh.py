"""extract_hubspot's answer heals the id map: missing or different pairs are upserted; a
full refresh replaces the map with exactly HubSpot's answer."""

from __future__ import annotations

from typing import Any

from hubspot_sync.steps.context import EntityRun
from hubspot_sync.steps.hubspot_side import refresh_id_map

from .conftest import mapping


class IdMapWarehouse:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.calls: list[tuple[str, list]] = []

    def id_map(self, entity: str, source_ids: Any = None) -> dict[str, str]:
        return {s: h for s, h in self.known.items() if source_ids is None or s in source_ids}

    def upsert_id_map(self, entity: str, obj: str, run_id: str, pairs: Any) -> int:
        self.calls.append(("upsert", sorted(pairs)))
        return len(self.calls[-1][1])

    def replace_id_map(self, entity: str, obj: str, run_id: str, pairs: Any) -> int:
        self.calls.append(("replace", sorted(pairs)))
        return len(self.calls[-1][1])


FOUND = {"a": ("1", "officernd_id", {}), "b": ("2", "officernd_id", {}),
         "c": ("3", "officernd_id", {}), "d": ("4", "email", {})}  # d: adopted, not ours yet


def run(warehouse: IdMapWarehouse, full_refresh: bool = False) -> EntityRun:
    return EntityRun(mapping=mapping(), run_id="r2", full_refresh=full_refresh,
                     _warehouse=warehouse)  # type: ignore[arg-type]


def test_pairs_hubspot_answers_are_upserted_when_missing_or_different() -> None:
    warehouse = IdMapWarehouse({"a": "1", "b": "9"})
    assert refresh_id_map(run(warehouse), FOUND) == 2
    assert warehouse.calls == [("upsert", [("b", "2"), ("c", "3")])]


def test_nothing_is_written_when_the_map_agrees() -> None:
    warehouse = IdMapWarehouse({"a": "1", "b": "2", "c": "3"})
    assert refresh_id_map(run(warehouse), FOUND) == 0 and warehouse.calls == []


def test_a_full_refresh_rebuilds_the_map_from_hubspots_answer() -> None:
    warehouse = IdMapWarehouse({"a": "1", "gone": "7"})
    refresh_id_map(run(warehouse, full_refresh=True), FOUND)
    assert warehouse.calls == [("replace", [("a", "1"), ("b", "2"), ("c", "3")])]
