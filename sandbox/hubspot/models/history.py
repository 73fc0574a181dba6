"""Property history: what ``propertiesWithHistory`` returns, stored compactly.

HubSpot answers ``propertiesWithHistory=a,b`` with, per property, the versions of its value
newest first: ``{"value", "timestamp", "sourceType", "sourceId"}`` (plus ``updatedByUserId``
for a person's edit). The sandbox holds up to a million records in memory, so it keeps
nothing for a value as created: a property's list is only started when a write changes
it, with the value it had before (stamped with the record's creation) as the oldest entry.
A property never changed since the create answers one entry built from the record.
Entries are ``(value, epoch ms, source)`` tuples, at most ``MAX_VERSIONS`` per property
(older ones dropped). History is kept in memory only: after a restart with ``--state``
each property starts again from its current value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.hubspot.models.values import fmt_ms

if TYPE_CHECKING:
    from sandbox.hubspot.models.records import Record

#: Who wrote a value: the private app's API calls, or a person in the HubSpot UI.
INTEGRATION = 0
CRM_UI = 1
#: The sandbox's private app (sourceId of API writes) and the person editing in the UI.
APP_ID = "2000001"
UI_USER_ID = 1000001
#: Versions kept per property (the oldest are dropped).
MAX_VERSIONS = 20

Entry = tuple[str, int, int]


def render_entry(value: str, ts: int, source: int) -> dict[str, Any]:
    if source == CRM_UI:
        return {"value": value, "timestamp": fmt_ms(ts), "sourceType": "CRM_UI",
                "sourceId": f"userId:{UI_USER_ID}", "updatedByUserId": UI_USER_ID}
    return {"value": value, "timestamp": fmt_ms(ts), "sourceType": "INTEGRATION",
            "sourceId": APP_ID}


class PropertyHistory:
    """Versions of changed properties per (object type, record id)."""

    def __init__(self) -> None:
        self.changes: dict[tuple[str, int], dict[str, list[Entry]]] = {}
        # records created by a person (the rest were created through the API)
        self.created_by_person: set[tuple[str, int]] = set()
        # who writes now; set for the duration of a person's edit (under the state lock)
        self.source = INTEGRATION

    def clear(self) -> None:
        self.changes.clear()
        self.created_by_person.clear()
        self.source = INTEGRATION

    def created(self, otype: str, rec: Record) -> None:
        if self.source == CRM_UI:
            self.created_by_person.add((otype, rec.id))

    def changed(self, otype: str, rec: Record, new: dict[str, str], ts: int) -> None:
        """Record ``new`` values (only those that differ) written at ``ts``; call before
        the record's props are updated."""
        per_record = self.changes.setdefault((otype, rec.id), {})
        for name, value in new.items():
            versions = per_record.get(name)
            if versions is None:
                versions = per_record[name] = []
                old = rec.props.get(name)
                if old is not None:
                    versions.append((old, rec.created, self._create_source(otype, rec)))
            versions.append((value, ts, self.source))
            if len(versions) > MAX_VERSIONS:
                del versions[:-MAX_VERSIONS]

    def _create_source(self, otype: str, rec: Record) -> int:
        return CRM_UI if (otype, rec.id) in self.created_by_person else INTEGRATION

    def render(self, otype: str, rec: Record, names: list[str],
               system: frozenset[str]) -> dict[str, list[dict[str, Any]]]:
        """``propertiesWithHistory`` of ``rec`` for ``names``, newest first; a property with
        no value and no history answers ``[]``. ``system`` properties (set by the server on
        every write) answer their current value stamped with the last write."""
        per_record = self.changes.get((otype, rec.id), {})
        out: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            versions = per_record.get(name)
            if versions:
                out[name] = [render_entry(*e) for e in reversed(versions)]
            elif name in rec.props:
                ts = rec.updated if name in system else rec.created
                out[name] = [render_entry(rec.props[name], ts,
                                          self._create_source(otype, rec))]
            else:
                out[name] = []
        return out

    def forget(self, otype: str, rid: int) -> None:
        self.changes.pop((otype, rid), None)
        self.created_by_person.discard((otype, rid))


def system_properties(last_modified: str) -> frozenset[str]:
    """Properties the server sets on every write (their one version is the last write)."""
    return frozenset({"hs_object_id", "createdate", last_modified})
