"""The mapping keys of a record's life after its first sync: what happens in HubSpot when
the source record is deleted or leaves the mapping's filter, how often deletions are looked
for, the guard against a mass delete, and whether a record a person deleted in HubSpot may
be created again.

``EntityMapping`` inherits these fields (``hubspot_sync.mapping``); this module imports only
pydantic, so the DAG factory can use it at parse time.

```yaml
on_source_delete: flag        # ignore (default) | flag | archive
on_filter_exit: flag          # ignore (default) | flag | archive
delete_check: daily           # every_run | daily (default) | full_refresh
flag: {property: officernd_status, source_delete: deleted, filter_exit: left_filter}
max_delete_ratio: 0.05        # guard: share of the entity's synced records
delete_guard_min_records: 20  # ... and at least this many
recreate_deleted: false       # a record archived in HubSpot is not created again
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DeleteAction = Literal["ignore", "flag", "archive"]
DELETE_ACTIONS = ("ignore", "flag", "archive")
DeleteCheck = Literal["every_run", "daily", "full_refresh"]


class FlagSpec(BaseModel):
    """The property a ``flag`` action sets, and the value for each reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    property: str = Field(default="officernd_status", pattern=r"^[a-z][a-z0-9_]*$",
                          description="HubSpot property set on a flagged record (a string "
                                      "property; created by the run when HubSpot lacks it)")
    source_delete: str = Field(default="deleted", min_length=1,
                               description="its value when the source record is deleted")
    filter_exit: str = Field(default="left_filter", min_length=1,
                             description="its value when the record leaves the filter")

    def value(self, why: str) -> str:
        return self.source_delete if why == "source_delete" else self.filter_exit


class LifecycleRules(BaseModel):
    """Deletes and churn: the keys ``EntityMapping`` inherits (defaults: today's behaviour,
    nothing is flagged nor archived, a record archived in HubSpot is not re-created)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_source_delete: DeleteAction = Field(
        default="ignore", description="a synced record no longer in the source: ignore, flag (set "
                              "flag.property) or archive it in HubSpot")
    on_filter_exit: DeleteAction = Field(
        default="ignore", description="a synced record that no longer passes the mapping's filter "
                              "(a member turning former): ignore, flag or archive")
    delete_check: DeleteCheck = Field(
        default="daily", description="when the source's ids are scanned for deletions: every_run, "
                             "daily (at most once in 23 h) or full_refresh runs only")
    flag: FlagSpec = Field(default_factory=FlagSpec)
    max_delete_ratio: float = Field(
        default=0.05, ge=0, le=1,
        description="a run that would flag or archive more than this share of the entity's "
                    "synced records stops before writing")
    delete_guard_min_records: int = Field(
        default=20, ge=0, description="the delete guard stops a run only from this many records on")
    recreate_deleted: bool = Field(
        default=False, description="a record archived or deleted in HubSpot by a person is created "
                           "again (true) or left alone with a tombstone (false)")

    @model_validator(mode="after")
    def _lifecycle(self) -> Any:
        # getattr: the fields below belong to EntityMapping, which inherits this check.
        uses_flag = "flag" in (self.on_source_delete, self.on_filter_exit)
        hubspot = getattr(self, "hubspot", None)
        if uses_flag and hubspot is not None and self.flag.property == hubspot.id_property:
            raise ValueError(f"flag.property {self.flag.property!r} is the id property; name "
                             "another property (e.g. officernd_status)")
        if uses_flag:
            mapped = next((p for p in getattr(self, "properties", [])
                           if p.to == self.flag.property), None)
            if mapped is not None and mapped.type not in (None, "string"):
                raise ValueError(f"flag.property {self.flag.property!r} is mapped with type "
                                 f"{mapped.type}; a flag needs a string property")
        if self.on_filter_exit != "ignore" and not getattr(self, "filter", None):
            raise ValueError(f"on_filter_exit: {self.on_filter_exit} needs a 'filter' (no "
                             "record can leave a filter the mapping does not have)")
        return self

    @property
    def handles_deletes(self) -> bool:
        return "ignore" != self.on_source_delete or "ignore" != self.on_filter_exit

    def delete_action(self, why: str) -> str:
        """The action for a reason: ``source_delete`` or ``filter_exit``."""
        return self.on_source_delete if why == "source_delete" else self.on_filter_exit

    def flag_property_definition(self) -> dict[str, Any] | None:
        """The definition of the flag property the run creates when HubSpot lacks it (None
        when no rule flags)."""
        if "flag" not in (self.on_source_delete, self.on_filter_exit):
            return None
        name = self.flag.property
        return {"name": name, "label": name.replace("_", " ").capitalize(), "type": "string",
                "fieldType": "text", "groupName": "officernd",
                "description": "Set by the sync when the OfficeRnD record is deleted or leaves "
                               "the mapping's filter."}
