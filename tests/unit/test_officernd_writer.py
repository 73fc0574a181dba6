"""The OfficeRnD writer (sources/officernd/writer.py) against the OfficeRnD sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hubspot_sync.sources.officernd import OfficeRnDSource, clear_token_cache
from hubspot_sync.sources.officernd.writer import OfficeRnDWriter, write_scopes


@pytest.fixture
def sandbox() -> Iterator[object]:
    from sandbox.officernd import OfficeRnDSandbox

    clear_token_cache()
    with OfficeRnDSandbox(port=0, scale=20, rate_limit=0, token_rate_limit=0) as sb:
        yield sb
    clear_token_cache()


def source_for(sb) -> OfficeRnDSource:
    return OfficeRnDSource.from_url(sb.url, "sandbox-client", "sandbox-secret", "sandbox",
                                    token_url=f"{sb.url}/oauth/token", token_cache_dir=None)


def test_update_sends_only_the_fields_and_refusals_are_results(sandbox) -> None:
    source = source_for(sandbox)
    member = sorted(sandbox.state.records("members"), key=lambda m: m["_id"])[0]
    list(source.extract("members"))  # the reader's token: read scopes only
    writer = OfficeRnDWriter(source, ["members"])
    result = writer.update("members", member["_id"], {"phone": "+1 555 0199"})
    assert result.ok and result.record["phone"] == "+1 555 0199"
    stored = next(m for m in sandbox.state.records("members") if m["_id"] == member["_id"])
    assert stored["name"] == member["name"] and stored["phone"] == "+1 555 0199"
    # OfficeRnD's refusal of one record is that record's result, with its reason.
    bad = writer.update("members", member["_id"], {"phone": 12})
    assert not bad.ok and bad.status == 400 and "phone must be a string" in bad.reason
    gone = writer.update("members", "0" * 24, {"phone": "1"})
    assert not gone.ok and gone.status == 404
    # Two tokens: the reader's (read scopes) and the writer's (named write scopes).
    assert source.calls[("POST", "/oauth/token")] == 2
    assert sandbox.write_counts()["members"]["updated"] == 1


def test_create_is_found_not_repeated_when_the_answer_was_lost(sandbox) -> None:
    source = source_for(sandbox)
    status = sandbox.state.records("opportunity-statuses")[0]["_id"]
    company = sandbox.state.records("companies")[0]["_id"]
    writer = OfficeRnDWriter(source, ["opportunities"])
    body = {"name": "From HubSpot", "status": status, "company": company,
            "properties": {"hubspot_deal_id": "777"}}
    first = writer.create("opportunities", body, dedupe=("hubspot_deal_id", "777"))
    assert first.ok and not first.found
    # The same create again (as after a lost answer): found by the custom field.
    again = writer.create("opportunities", body, dedupe=("hubspot_deal_id", "777"))
    assert again.ok and again.found and again.record["_id"] == first.record["_id"]
    assert sandbox.write_counts()["opportunities"]["created"] == 1


def test_write_scopes_name_read_create_update() -> None:
    assert write_scopes(["members"]) == ("flex.community.members.read "
                                         "flex.community.members.create "
                                         "flex.community.members.update")
    with pytest.raises(ValueError, match="does not write"):
        write_scopes(["plans"])
