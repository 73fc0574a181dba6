"""HubSpotHook's change reads (hubspot_client/changes.py) against the HubSpot sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hubspot_sync.hubspot_client import HubSpotHook, changes


def test_window_is_read_in_keyset_pages_that_never_use_after(hubspot_sandbox, monkeypatch):
    state = hubspot_sandbox.state
    start = datetime.now(UTC) - timedelta(seconds=1)
    made = {state.create_object("contacts", {"email": f"p{i}@example.com"})["id"]
            for i in range(45)}
    end = datetime.now(UTC) + timedelta(seconds=1)
    monkeypatch.setattr(changes, "SEARCH_LIMIT", 10)
    hook = HubSpotHook.from_url(hubspot_sandbox.url, "sandbox-token", search_per_second=0)
    bodies: list[dict] = []
    send = hook._request

    def spy(method, route, path=None, **kw):
        if route.endswith("/search"):
            bodies.append(kw["json"])
        return send(method, route, path, **kw)

    monkeypatch.setattr(hook, "_request", spy)
    found = list(hook.modified_between("contacts", start, end, ["email"]))
    assert {r["id"] for r in found} == made
    assert len(bodies) == 5 and not any("after" in b for b in bodies)
    assert all(b["sorts"][0]["propertyName"] == "hs_object_id" for b in bodies)
    gt = [f for b in bodies[1:] for f in b["filterGroups"][0]["filters"]
          if f["propertyName"] == "hs_object_id"]
    assert len(gt) == 4 and all(f["operator"] == "GT" for f in gt)
    # Nothing modified after the window's end is read.
    assert list(hook.modified_between("contacts", end, end + timedelta(hours=1), [])) == []
    # A full refresh (no window) pages the list endpoint, not search.
    searches = len(bodies)
    assert {r["id"] for r in hook.modified_between("contacts", None, None, [])} == made
    assert len(bodies) == searches and hook.calls[("GET", "/crm/v3/objects/{objectType}")] == 1



def test_history_is_read_fifty_records_a_call(hubspot_sandbox):
    state = hubspot_sandbox.state
    ids = [state.create_object("contacts", {"email": f"h{i}@example.com", "phone": "1"})["id"]
           for i in range(60)]
    hook = HubSpotHook.from_url(hubspot_sandbox.url, "sandbox-token")
    history = hook.read_with_history("contacts", ids, ["phone"])
    assert set(history) == set(ids)
    assert hook.calls[("POST", "/crm/v3/objects/{objectType}/batch/read")] == 2
    assert history[ids[0]]["phone"][0]["value"] == "1"
    assert changes.changed_at(history[ids[0]]["phone"]) is not None
