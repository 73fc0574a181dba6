"""decide(): every branch of the baseline rule, each conflict rule, no baseline, blanks,
to_officernd and to_hubspot properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hubspot_sync.two_way.resolve import ConflictRecord, Decision, Side, decide, latest_side

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)


def both(o: str | None, h: str | None, b: str | None = None, has_baseline: bool = True,
         rule: str = "latest_wins", o_at: datetime | None = T0,
         h_at: datetime | None = LATER) -> Decision:
    return decide("phone", "both", rule, Side(o, o_at), Side(h, h_at), b,  # type: ignore[arg-type]
                  has_baseline)


def flows(d: Decision) -> tuple[bool, bool, str | None]:
    return d.to_hubspot, d.to_officernd, d.value


def test_agreed_values_write_nothing_and_become_the_baseline() -> None:
    d = both("+1 555", "+1 555", "+1 000")
    assert flows(d) == (False, False, "+1 555") and d.agreed and d.conflict is None
    assert both(None, "  ", None, has_baseline=False).agreed  # blank is no value


def test_only_officernd_changed_goes_to_hubspot() -> None:
    d = both("+1 new", "+1 old", "+1 old")
    assert flows(d) == (True, False, "+1 new") and not d.agreed and d.conflict is None


def test_only_hubspot_changed_goes_to_officernd() -> None:
    d = both("+1 old", "+1 typed", "+1 old")
    assert flows(d) == (False, True, "+1 typed") and d.conflict is None


def test_a_value_cleared_on_one_side_is_cleared_on_the_other() -> None:
    assert flows(both("+1 old", None, "+1 old")) == (False, True, None)
    assert flows(both(None, "+1 old", "+1 old")) == (True, False, None)
    # an agreed blank baseline: a value typed in HubSpot flows back
    assert flows(both(None, "+1 typed", None)) == (False, True, "+1 typed")


@pytest.mark.parametrize(("rule", "o_at", "h_at", "winner"), [
    ("officernd_wins", T0, LATER, "officernd"),
    ("hubspot_wins", LATER, T0, "hubspot"),
    ("latest_wins", T0, LATER, "hubspot"),
    ("latest_wins", LATER, T0, "officernd"),
    ("latest_wins", T0, T0, "officernd"),  # a tie goes to OfficeRnD
    ("latest_wins", T0, None, "officernd"),  # no HubSpot time: not known to be later
    ("latest_wins", None, T0, "hubspot"),
])
def test_both_sides_changed_the_rule_decides_and_the_loser_is_recorded(
        rule: str, o_at: datetime | None, h_at: datetime | None, winner: str) -> None:
    d = both("+1 ornd", "+1 hs", "+1 old", rule=rule, o_at=o_at, h_at=h_at)
    assert d.conflict == ConflictRecord("phone", "+1 ornd", o_at, "+1 hs", h_at, rule,  # type: ignore[arg-type]
                                        winner)
    if winner == "hubspot":
        assert flows(d) == (False, True, "+1 hs")
    else:
        assert flows(d) == (True, False, "+1 ornd")
    assert d.conflict is not None and d.conflict.as_row()["winner"] == winner


def test_no_baseline_a_blank_side_takes_the_other_value() -> None:
    assert flows(both("+1 ornd", None, has_baseline=False)) == (True, False, "+1 ornd")
    assert flows(both(None, "+1 hs", has_baseline=False)) == (False, True, "+1 hs")
    assert both(None, "+1 hs", has_baseline=False).conflict is None


def test_no_baseline_two_values_are_a_conflict() -> None:
    d = both("+1 ornd", "+1 hs", has_baseline=False, rule="hubspot_wins")
    assert flows(d) == (False, True, "+1 hs")
    assert d.conflict is not None and d.conflict.rule == "hubspot_wins"
    # a None baseline with has_baseline=False is no baseline, not an agreed blank
    d = both("+1 ornd", "+1 hs", None, has_baseline=False, rule="officernd_wins")
    assert flows(d) == (True, False, "+1 ornd") and d.conflict is not None


def test_to_officernd_never_flows_to_hubspot_and_hubspot_wins_conflicts() -> None:
    def to_officernd(o: str | None, h: str | None, b: str | None,
                     has: bool = True) -> Decision:
        return decide("lifecyclestage", "to_officernd", "officernd_wins", Side(o, LATER),
                      Side(h, T0), b, has)

    assert flows(to_officernd("lead", "customer", "lead")) == (False, True, "customer")
    only_officernd = to_officernd("member", "lead", "lead")
    assert flows(only_officernd) == (False, False, "member") and not only_officernd.agreed
    conflict = to_officernd("member", "customer", "lead")
    assert flows(conflict) == (False, True, "customer")
    assert conflict.conflict is not None and conflict.conflict.rule == "hubspot_wins"
    assert conflict.conflict.winner == "hubspot"  # though OfficeRnD's change is later
    assert to_officernd("lead", "lead", None, False).agreed
    assert flows(to_officernd("lead", None, None, False)) == (False, False, "lead")
    assert flows(to_officernd(None, "customer", None, False)) == (False, True, "customer")


def test_to_hubspot_is_todays_forward_rule() -> None:
    d = decide("email", "to_hubspot", "hubspot_wins", Side("a@x.com"), Side("b@x.com"),
               "b@x.com", True)
    assert flows(d) == (True, False, "a@x.com") and d.conflict is None
    assert flows(decide("email", "to_hubspot", "latest_wins", Side("a@x.com"),
                        Side("a@x.com"), None, False)) == (False, False, "a@x.com")


def test_a_rerun_after_the_write_finds_everything_agreed() -> None:
    first = both("+1 old", "+1 typed", "+1 old")  # HubSpot's edit goes to OfficeRnD ...
    assert first.to_officernd
    again = both(first.value, "+1 typed", first.value)  # ... read back: no echo
    assert again.agreed and not again.to_hubspot and not again.to_officernd


def test_latest_side() -> None:
    assert latest_side(Side("a", T0), Side("b", LATER)) == "hubspot"
    assert latest_side(Side("a", None), Side("b", None)) == "officernd"


# A forward write of p ("+1 sent") whose answer was lost: the baseline b is still "+1 old" and
# p is pending. The four cases: applied or not, OfficeRnD changed again or not; plus the
# reverse direction (a write of HubSpot's value to OfficeRnD whose answer was lost).

def pending(o: str | None, h: str | None, b: str | None = "+1 old",
            p: str | None = "+1 sent", rule: str = "hubspot_wins",
            has_baseline: bool = True, has_pending: bool = True) -> Decision:
    return decide("phone", "both", rule, Side(o, T0), Side(h, LATER),  # type: ignore[arg-type]
                  b, has_baseline, p, has_pending)


def test_pending_applied_and_officernd_changed_again_goes_to_hubspot_not_a_conflict() -> None:
    d = pending("+1 newest", "+1 sent")  # h == p: the sync's own write, not a person's edit
    assert flows(d) == (True, False, "+1 newest") and d.conflict is None
    # The same values without the pending value: the false conflict hubspot_wins lost the edit.
    lost = pending("+1 newest", "+1 sent", has_pending=False)
    assert flows(lost) == (False, True, "+1 sent") and lost.conflict is not None


def test_pending_applied_and_nothing_changed_is_agreed() -> None:
    d = pending("+1 sent", "+1 sent")
    assert flows(d) == (False, False, "+1 sent") and d.agreed and d.conflict is None


def test_pending_not_applied_and_officernd_changed_again_goes_to_hubspot() -> None:
    d = pending("+1 newest", "+1 old")
    assert flows(d) == (True, False, "+1 newest") and d.conflict is None


def test_pending_not_applied_and_nothing_changed_sends_the_write_again() -> None:
    d = pending("+1 sent", "+1 old")  # o == p, h == b: neither side edited since
    assert flows(d) == (True, False, "+1 sent") and d.conflict is None


def test_pending_a_person_edit_in_hubspot_after_the_lost_write_still_flows_back() -> None:
    d = pending("+1 sent", "+1 typed")  # OfficeRnD holds p, HubSpot a person's new value
    assert flows(d) == (False, True, "+1 typed") and d.conflict is None
    both_edited = pending("+1 newest", "+1 typed")  # both edited: still a real conflict
    assert both_edited.conflict is not None and flows(both_edited) == (False, True, "+1 typed")


def test_pending_reverse_write_applied_and_hubspot_changed_again_goes_to_officernd() -> None:
    # HubSpot's "+1 sent" was written to OfficeRnD (answer lost); HubSpot changed it again.
    d = pending("+1 sent", "+1 newest", rule="officernd_wins")
    assert flows(d) == (False, True, "+1 newest") and d.conflict is None
    retried = pending("+1 old", "+1 sent", rule="officernd_wins")  # not applied: sent again
    assert flows(retried) == (False, True, "+1 sent") and retried.conflict is None


def test_pending_without_a_baseline_is_the_first_runs_write() -> None:
    # First two-way run: OfficeRnD's value sent to a blank HubSpot, answer lost.
    applied = pending("+1 newest", "+1 sent", b=None, has_baseline=False)
    assert flows(applied) == (True, False, "+1 newest") and applied.conflict is None
    not_applied = pending("+1 sent", None, b=None, has_baseline=False)
    assert flows(not_applied) == (True, False, "+1 sent") and not_applied.conflict is None


def test_a_pending_none_is_a_value() -> None:
    # A write clearing the phone, answer lost and applied; OfficeRnD set a new phone since.
    d = pending("+1 newest", None, p=None)
    assert flows(d) == (True, False, "+1 newest") and d.conflict is None
    assert pending("+1 newest", None, p=None, has_pending=False).conflict is not None
