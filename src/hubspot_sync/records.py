"""The records that flow between the steps of a run, typed once.

Each step hands the next a pandas frame (or list) of one of these shapes, and the
warehouse stores them; the column lists are the one definition both sides use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

DeltaAction = Literal["create", "update", "unchanged", "skipped", "orphan", "conflict"]
DELTA_ACTIONS: tuple[DeltaAction, ...] = ("create", "update", "unchanged", "skipped", "orphan",
                                          "conflict")
WriteAction = Literal["create", "update", "archive"]
LoadStatus = Literal["written", "failed"]
RejectSource = Literal["validation", "hubspot", "officernd"]


class DeltaRow(TypedDict):
    """One record classified by compute_delta (a row of the ``delta`` table)."""

    source_id: str
    hubspot_id: str | None
    action: DeltaAction
    changed_fields: list[str]
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str | None
    matched_by: str | None
    changed_at: datetime | None


class LoadOutcome(TypedDict):
    """What became of one write load attempted (a row of ``load_outcomes``)."""

    source_id: str
    hubspot_id: str | None
    action: WriteAction
    status: LoadStatus
    category: str | None
    message: str | None


class Reject(TypedDict, total=False):
    """One record held back, with the rule and a sentence a person understands."""

    source_id: str | None
    rule: str
    property: str | None
    value: str | None
    reason: str
    source: RejectSource
    category: str | None


DELTA_COLUMNS: list[str] = list(DeltaRow.__annotations__)
LOAD_OUTCOME_COLUMNS: list[str] = list(LoadOutcome.__annotations__)
# What validation reports of a reject; the recording step adds ``source`` / ``category``.
REJECT_COLUMNS: list[str] = ["source_id", "rule", "property", "value", "reason"]
