"""Which way a two-way property's value flows in a run: the baseline rule.

Per (entity, record, HubSpot property) the warehouse keeps the baseline ``b``, the last value
both sides agreed on. With OfficeRnD's value ``o`` and HubSpot's ``h`` (both in the forward,
normalised HubSpot form; blank text is no value):

- ``o == h``: agreed, nothing is written; the baseline becomes ``o``.
- ``h == b`` (only OfficeRnD changed): ``o`` goes to HubSpot.
- ``o == b`` (only HubSpot changed): ``h`` goes to OfficeRnD; the forward delta holds ``o`` back.
- both changed, differently: a conflict. The rule decides and the loser is recorded:
  ``officernd_wins``, ``hubspot_wins``, or ``latest_wins`` (OfficeRnD's record ``modifiedAt``
  against HubSpot's property-history timestamp; a tie, or no HubSpot time, goes to OfficeRnD).
- no baseline yet (the record's first two-way run): a blank side takes the other's value;
  two different values are a conflict the rule decides.

Write-ahead ``pending`` values: before a write is sent, the value it sends is recorded as the
pair's pending value; a confirmed write makes it the baseline, a refusal clears it, and an
unknown outcome (the answer lost, the worker killed) keeps it. A side is unchanged when it
holds the baseline or the pending value: a write that was applied but not confirmed is the
sync's own value, never a person's edit (and never a false conflict). When both sides hold
such a value but differ (one the baseline, the other the pending value: the write was not
applied), the pending value's write is sent again.

A ``to_officernd`` property is decided like ``both`` with the rule ``hubspot_wins`` and never
flows to HubSpot. Since every write sets the baseline to the value written, a value the sync
wrote reads back equal to the baseline: it is never taken for a person's edit (no echo), and
a re-run finds ``o == h == b`` and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hubspot_sync.two_way.spec import ConflictRule, Direction
from hubspot_sync.values import is_blank

OFFICERND = "officernd"
HUBSPOT = "hubspot"


@dataclass(frozen=True)
class Side:
    """One side's value of a property (HubSpot form) and when that side last changed it."""

    value: str | None
    changed_at: datetime | None = None


@dataclass(frozen=True)
class ConflictRecord:
    """Both sides changed a property since the last agreed value: what each had, the rule
    and who won (``officernd`` or ``hubspot``). The warehouse's ``sync_conflicts`` row."""

    property: str
    officernd_value: str | None
    officernd_changed_at: datetime | None
    hubspot_value: str | None
    hubspot_changed_at: datetime | None
    rule: ConflictRule
    winner: str

    def as_row(self) -> dict[str, Any]:
        return {"property": self.property, "officernd_value": self.officernd_value,
                "officernd_changed_at": self.officernd_changed_at,
                "hubspot_value": self.hubspot_value,
                "hubspot_changed_at": self.hubspot_changed_at, "rule": self.rule,
                "winner": self.winner}


@dataclass(frozen=True)
class Decision:
    """What a run does with one property of one record: write ``value`` to HubSpot or to
    OfficeRnD, or neither. ``agreed``: both sides hold ``value`` already (it becomes the
    baseline). Neither write and not agreed: a ``to_officernd`` property only OfficeRnD
    changed (HubSpot keeps its value, the baseline stays)."""

    property: str
    to_hubspot: bool
    to_officernd: bool
    value: str | None
    conflict: ConflictRecord | None = None
    agreed: bool = False


def _norm(value: Any) -> str | None:
    return None if is_blank(value) else str(value)


def latest_side(officernd: Side, hubspot: Side) -> str:
    """``hubspot`` when HubSpot's change is known and strictly later than OfficeRnD's (or
    OfficeRnD's time is unknown); ``officernd`` otherwise (a tie goes to OfficeRnD)."""
    if hubspot.changed_at is None:
        return OFFICERND
    if officernd.changed_at is None:
        return HUBSPOT
    return HUBSPOT if hubspot.changed_at > officernd.changed_at else OFFICERND


def _winner(rule: ConflictRule, officernd: Side, hubspot: Side) -> str:
    if rule == "officernd_wins":
        return OFFICERND
    if rule == "hubspot_wins":
        return HUBSPOT
    return latest_side(officernd, hubspot)


def decide(prop: str, direction: Direction, rule: ConflictRule, officernd: Side,
           hubspot: Side, baseline: str | None, has_baseline: bool,
           pending: str | None = None, has_pending: bool = False) -> Decision:
    """The run's decision for one property of one record (see the module's rule).

    ``baseline`` is the last agreed value and ``has_baseline`` whether there is one at all (a
    None baseline with ``has_baseline`` means both sides agreed on no value); ``pending`` /
    ``has_pending`` likewise for a write sent whose outcome is unknown. A ``to_hubspot``
    property is today's forward behaviour: OfficeRnD's value when it differs.
    """
    o, h, b = _norm(officernd.value), _norm(hubspot.value), _norm(baseline)
    p = _norm(pending)
    if direction == "to_hubspot":
        return Decision(prop, to_hubspot=o != h, to_officernd=False, value=o)
    if direction == "to_officernd":
        rule = "hubspot_wins"
    if o == h:
        return Decision(prop, False, False, o, agreed=True)
    # Values a side may hold with no person's edit since the last run: the baseline (none
    # yet counts as agreed on no value, which is the first run's "a blank side takes the
    # other's value") and the pending value of a write whose outcome is unknown.
    known = [b if has_baseline else None] + ([p] if has_pending else [])
    hubspot_same, officernd_same = h in known, o in known
    if hubspot_same and officernd_same:  # one holds the pending value: the write is retried
        if o == p:
            return Decision(prop, direction == "both", False, o)
        return Decision(prop, False, True, h)
    if hubspot_same:  # only OfficeRnD changed
        return Decision(prop, direction == "both", False, o)
    if officernd_same:  # only HubSpot changed
        return Decision(prop, False, True, h)
    winner = _winner(rule, officernd, hubspot)
    conflict = ConflictRecord(prop, o, officernd.changed_at, h, hubspot.changed_at, rule, winner)
    if winner == HUBSPOT:
        return Decision(prop, False, True, h, conflict)
    return Decision(prop, direction == "both", False, o, conflict)
