"""The data and the API replays of bench_million: N OfficeRnD members and HubSpot's
contacts for them, generated per page on demand (nothing recorded is held in memory), and
a source and a hook answering the calls the steps make, each call timed (the API side).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CITIES = ["London", "Berlin", "Sofia", "Lisbon", "New York", "Austin", "Paris", "Madrid"]
STATUSES = ["active", "active", "active", "former", "pending", "lead"]
FIRST = ["Jane", "John", "Ana", "Ivan", "Maria", "Li", "Omar", "Eva", "Zoë", "Kwame"]
LAST = ["Doe", "Smith", "Petrova", "Silva", "Müller", "Chen", "Haddad", "O'Brien"]


# --------------------------------------------------------------------------- the data


def sid(i: int) -> str:
    return f"64f0{i:020x}"


def hubspot_id(i: int) -> str:
    return str(10_000_000 + i)


def member_kind(i: int) -> str:
    """What member ``i`` is in the run (deterministic, spread over the ids)."""
    r = (i * 7919) % 1000
    if r < 5:
        return "bad_email"
    if r < 8:
        return "no_email"
    if r < 12:
        return "left_filter"
    if r < 14:
        return "bad_date"
    if r < 24:
        return "new"  # not in HubSpot: created
    if r < 27:
        return "adopt"  # in HubSpot by email only: adopted, updated with the id property
    if r < 37:
        return "changed"  # HubSpot holds an older city: updated
    return "same"


def member(i: int) -> dict[str, Any]:
    kind = member_kind(i)
    email = f"Member{i}@Example{i % 97}.com "
    if kind == "bad_email":
        email = f"member{i} at example.com"
    elif kind == "no_email":
        email = None
    city = CITIES[i % len(CITIES)]
    start = (T0 - timedelta(days=i % 3000)).strftime("%Y-%m-%d")
    return {
        "_id": sid(i), "name": f"{FIRST[i % 10]} {LAST[i % 8]}{i % 1000}", "email": email,
        "phone": f" +44 20 7{i % 1000:03d} {i % 10000:04d}",
        "address": {"street": f"{i % 300} High Street", "city": city, "state": None,
                    "zip": f"N{i % 20} {i % 9}AB", "country": "GB"},
        "status": "inactive" if kind == "left_filter" else STATUSES[i % len(STATUSES)],
        "startDate": "2023-02-30" if kind == "bad_date" else start,
        "company": f"c0{i % (1 + 200_000):022x}" if i % 10 else None,
        "team": None, "isContact": True, "calendarId": None,
        "createdAt": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        "modifiedAt": (T0 + timedelta(seconds=2 * i)).isoformat().replace("+00:00", "Z"),
        "properties": {"membershipType": "flex" if i % 3 else "dedicated"},
    }


def contact(i: int, prefix: str, id_property: str) -> dict[str, Any] | None:
    """HubSpot's record for member ``i`` as the previous sync wrote it (None: no record)."""
    kind = member_kind(i)
    if kind in ("new", "bad_email", "no_email"):
        return None
    city = CITIES[i % len(CITIES)]
    props = {
        "email": f"member{i}@example{i % 97}.com", "firstname": FIRST[i % 10],
        "lastname": f"{LAST[i % 8]}{i % 1000}", "phone": f"+44 20 7{i % 1000:03d} {i % 10000:04d}",
        "address": f"{i % 300} High Street", "city": "Old Town" if kind == "changed" else city,
        "state": None, "zip": f"N{i % 20} {i % 9}AB", "country": "GB",
        "officernd_status": STATUSES[i % len(STATUSES)],
        "officernd_start_date": (T0 - timedelta(days=i % 3000)).strftime("%Y-%m-%d"),
        id_property: None if kind == "adopt" else f"{prefix}{sid(i)}",
        "hs_object_id": hubspot_id(i), "createdate": "2024-01-01T00:00:00.000Z",
        "lastmodifieddate": "2024-06-01T00:00:00.000Z",
    }
    return {"id": hubspot_id(i), "properties": props, "archived": False,
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-06-01T00:00:00.000Z"}


def orphan(j: int, prefix: str, id_property: str) -> dict[str, Any]:
    k = 900_000_000 + j
    return {"id": hubspot_id(k), "archived": False, "properties": {
        "email": f"gone{j}@example.com", "firstname": "Gone", "lastname": f"Member{j}",
        id_property: f"{prefix}{sid(k)}", "hs_object_id": hubspot_id(k)}}


# --------------------------------------------------------------------------- replays


class Clock:
    """Seconds spent inside replay calls (the API side)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0

    def timed(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t
            self.cpu += time.process_time() - c


class ReplaySource:
    """The OfficeRnD source's answers (pages of 50), generated per page."""

    PAGE = 50

    def __init__(self, n: int, clock: Clock) -> None:
        self.n, self.clock = n, clock
        self.calls: Counter[tuple[str, str]] = Counter()

    @property
    def call_count(self) -> int:
        return sum(self.calls.values())

    def _page(self, start: int) -> list[dict]:
        self.calls[("GET", "/members")] += 1
        return [member(i) for i in range(start, min(start + self.PAGE, self.n))]

    def extract(self, resource: str, since: Any = None, until: Any = None,
                changed_at: Any = None) -> Iterator[dict[str, Any]]:
        assert resource == "members", resource
        for start in range(0, self.n, self.PAGE):
            yield from self.clock.timed(self._page, start)

    def get_many(self, resource: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {}

    def list_ids(self, resource: str, id_field: str = "_id") -> set[str]:
        return self.clock.timed(lambda: {sid(i) for i in range(self.n)})

    def close(self) -> None:
        return None


class ReplayHook:
    """The HubSpot hook's answers for contacts (list pages and batch calls of 100)."""

    PAGE = 100

    def __init__(self, n: int, orphans: int, prefix: str, id_property: str,
                 clock: Clock) -> None:
        self.n, self.orphans, self.prefix, self.id_property = n, orphans, prefix, id_property
        self.clock = clock
        self.calls: Counter[tuple[str, str]] = Counter()
        self.rate_limited = 0

    @property
    def call_count(self) -> int:
        return sum(self.calls.values())

    @property
    def write_call_count(self) -> int:
        return sum(n for (method, route), n in self.calls.items() if method == "WRITE")

    def _list_page(self, start: int) -> list[dict]:
        self.calls[("GET", "/crm/v3/objects/{objectType}")] += 1
        out = []
        for i in range(start, min(start + self.PAGE, self.n + self.orphans)):
            record = (contact(i, self.prefix, self.id_property) if i < self.n
                      else orphan(i - self.n, self.prefix, self.id_property))
            if record is not None:
                out.append(record)
        return out

    def list_objects(self, object_type: str, properties: Sequence[str], archived: bool = False,
                     progress: Any = None) -> Iterator[dict]:
        for start in range(0, self.n + self.orphans, self.PAGE):
            page = self.clock.timed(self._list_page, start)
            if progress is not None:
                progress.advance(len(page))
            yield from page

    def _batch_read(self, ids: list[str], id_property: str | None) -> list[dict]:
        out = []
        for start in range(0, len(ids), self.PAGE):
            self.calls[("POST", "/crm/v3/objects/{objectType}/batch/read")] += 1
            for value in ids[start:start + self.PAGE]:
                if id_property == "email" and value.startswith("member") and "@" in value \
                        and value[6:value.index("@")].isdigit():
                    record = contact(int(value[6:value.index("@")]), self.prefix,
                                     self.id_property)
                    if record is not None and record["properties"]["email"] == value:
                        out.append(record)
        return out

    def batch_read(self, object_type: str, ids: Iterable[str], properties: Sequence[str],
                   id_property: str | None = None, progress: Any = None,
                   archived: bool = False) -> list[dict]:
        wanted = list(dict.fromkeys(str(i) for i in ids))
        return self.clock.timed(self._batch_read, wanted, id_property)

    def _association_types(self, ids: list[str]) -> dict[str, dict[str, list[int]]]:
        self.calls[("POST", "/crm/v4/associations/batch/read")] += -(-len(ids) // 1000)
        out = {}
        for hid in ids:
            i = int(hid) - 10_000_000
            if 0 <= i < self.n and i % 10:
                out[hid] = {str(20_000_000 + i % 200_001): [1, 279]}
        return out

    def read_association_types(self, from_type: str, to_type: str,
                               ids: Sequence[str]) -> dict[str, dict[str, list[int]]]:
        return self.clock.timed(self._association_types, list(ids))

    def _write(self, inputs: Sequence[dict], upsert: bool) -> Any:
        from hubspot_sync.hubspot_client.errors import BatchOutcome

        outcome = BatchOutcome()
        for start in range(0, len(inputs), self.PAGE):
            self.calls[("WRITE", "batch/upsert" if upsert else "batch/update")] += 1
            for item in inputs[start:start + self.PAGE]:
                if upsert:
                    i = int(item["id"][len(self.prefix) + 4:], 16)
                    outcome.results.append({
                        "id": hubspot_id(i), "new": member_kind(i) == "new",
                        "objectWriteTraceId": item.get("objectWriteTraceId"),
                        "properties": {self.id_property: item["id"]}})
                else:
                    outcome.results.append({"id": item["id"], "properties": {},
                                            "objectWriteTraceId": item.get("objectWriteTraceId")})
        return outcome

    def batch_upsert(self, object_type: str, inputs: Sequence[dict], id_property: str,
                     progress: Any = None) -> Any:
        return self.clock.timed(self._write, inputs, True)

    def batch_update(self, object_type: str, inputs: Sequence[dict], progress: Any = None) -> Any:
        return self.clock.timed(self._write, inputs, False)
