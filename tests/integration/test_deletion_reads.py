"""The reads deletion detection rests on, against the sandboxes over HTTP: OfficeRnD's
id-only scan (``$select=_id``) and HubSpot's batch read of archived records and of a merged
record's old id."""

from __future__ import annotations

import pytest

from hubspot_sync.hubspot_client import HubSpotHook
from hubspot_sync.sources import OfficeRnDSource
from hubspot_sync.sources.officernd import clear_token_cache
from hubspot_sync.steps.hubspot_deletes import MERGED_IDS, answers
from hubspot_sync.transport import Backoff


@pytest.fixture(autouse=True)
def _fresh_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNC_TOKEN_CACHE_DIR", str(tmp_path / "tokens"))
    clear_token_cache()
    yield
    clear_token_cache()


def test_id_scan_lists_exactly_the_existing_ids_with_select(ornd_sandbox, monkeypatch):
    source = OfficeRnDSource.from_url(ornd_sandbox.url, "sandbox-client", "sandbox-secret",
                                      "sandbox", backoff=Backoff(initial=0.01, maximum=0.1))
    sent: list[dict] = []
    real_get = source._get

    def spy(path, route, params=None):
        response = real_get(path, route, params)
        sent.append(dict(params or {}))
        bodies.append(response.json())
        return response

    bodies: list[dict] = []
    monkeypatch.setattr(source, "_get", spy)
    everyone = {m["_id"] for m in ornd_sandbox.state.records("members")}
    gone = sorted(everyone)[:2]
    for rid in gone:
        ornd_sandbox.state.delete_record("members", rid)

    ids = source.list_ids("members")

    assert ids == everyone - set(gone)
    assert sent and all(p.get("$select") == "_id" for p in sent)
    assert len(sent) == -(-len(ids) // 50), "50 ids a page"
    assert all(set(r) == {"_id"} for body in bodies for r in body["results"]), "ids only"


def test_batch_read_by_id_answers_for_merged_and_archived_records(hs_sandbox):
    hook = HubSpotHook.from_url(hs_sandbox.url, "sandbox-token")
    state = hs_sandbox.state
    a = state.create_object("contacts", {"email": "a@example.com"})["id"]
    b = state.create_object("contacts", {"email": "b@example.com"})["id"]
    gone = state.create_object("contacts", {"email": "c@example.com"})["id"]
    state.merge("contacts", a, b)
    hook.batch_archive("contacts", [gone])

    live = hook.batch_read("contacts", [a, b, gone], ["email", MERGED_IDS])
    got = answers([a, b, gone], live)
    assert {k: v["id"] for k, v in got.items()} == {a: a, b: a}, "b answers with a"
    archived = hook.batch_read("contacts", [gone], ["email"], archived=True)
    assert [(r["id"], r["archived"]) for r in archived] == [(gone, True)]
    assert archived[0]["archivedAt"]
    assert hook.batch_read("contacts", [a], ["email"], archived=True) == []
