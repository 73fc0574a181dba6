"""The ``timeline:`` section of a mapping: events written as HubSpot notes, once each.

Kept beside ``mapping`` (which imports it) so that module stays small; the rules that apply
these specs are in ``hubspot_sync.steps.timeline_rules``. Only pydantic is imported here.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimelineTarget(_Model):
    """A record the note goes on."""

    entity: str = Field(description="the entity whose HubSpot record gets the note")
    via: str = Field("_id", description="field of the event record holding that record's "
                                        "source id (_id: the record itself)")


class TimelineSpec(_Model):
    """One kind of event written as a HubSpot note on a record's timeline, once per key
    (hubspot_sync.steps.timeline_rules has the rules)."""

    event: str = Field(description="name of the event, e.g. signed, terminated, issued")
    resource: str | None = Field(None, description="OfficeRnD resource the events come from "
                                                   "(records changed in the run's window); "
                                                   "default: the entity's own records")
    when: dict[str, list[Any]] = Field(description="the record is in this state: the event "
                                                   "has happened")
    # not "on": YAML 1.1 reads that key as true
    attach_to: list[TimelineTarget] = Field(min_length=1,
                                            description="records the note is on")
    key: str = Field(description="template of the event's key, written once, e.g. "
                                 "'contract-{_id}:signed'")
    timestamp: str = Field(description="field with the event's date (the note's hs_timestamp)")
    title: str = Field(description="template of the note's first line")
    lines: list[str] = Field(default_factory=list, description="templates of further lines")
    required: list[str] = Field(default_factory=list,
                                description="fields an event must have to be written")
    history_days: int = Field(30, ge=0, description="older events are recorded, not written "
                                                    "(a first sync does not flood timelines)")

    @field_validator("event")
    @classmethod
    def _event_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and _")
        return value

    @model_validator(mode="after")
    def _templates(self) -> TimelineSpec:
        for text in (self.key, self.title, *self.lines):
            try:
                list(string.Formatter().parse(text))
            except ValueError as exc:
                raise ValueError(f"template {text!r} is not a valid format: {exc}") from exc
        if "{" not in self.key:
            raise ValueError(f"key {self.key!r} names no field: every event would share it")
        if not self.when:
            raise ValueError("'when' is empty: every record would carry the event")
        return self


def timeline_table_md(specs: Sequence[TimelineSpec]) -> str:
    """The timeline events as a Markdown table (an entity DAG's doc_md)."""
    rows = ["| event | when | note on | key (written once) | date |",
            "|---|---|---|---|---|"]
    for spec in specs:
        when = ", ".join(f"{k} in {v}" for k, v in spec.when.items())
        source = f" of `{spec.resource}`" if spec.resource else ""
        on = ", ".join(t.entity if t.via == "_id" else f"{t.entity} (`{t.via}`)"
                       for t in spec.attach_to)
        rows.append(f"| {spec.event}{source} | {when} | {on} | `{spec.key}` | "
                    f"`{spec.timestamp}` (older than {spec.history_days} days: not written) |")
    return "\n".join(rows)
