"""Ambiguous faults over HTTP: the write is applied, then the answer is lost, held past the
client's timeout, or cut short. Each test reads the state back and checks what the client
saw."""

from __future__ import annotations

import json

import pytest
import requests

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.cli import parser
from sandbox.hubspot.faults import KINDS

CONTACTS = "/crm/v3/objects/contacts"


def faults(hs, **cfg):
    r = requests.post(f"{hs.url}/_sandbox/faults", json=cfg)
    assert r.status_code == 200, r.text
    return r.json()


def upsert(http, url, email, timeout=5.0):
    return http.post(f"{url}{CONTACTS}/batch/upsert", timeout=timeout, json={"inputs": [
        {"id": email, "idProperty": "email", "properties": {"firstname": "Applied"}}]})


def stored(hs, email):
    """The contact as the state holds it (read once the faults are cleared)."""
    requests.delete(f"{hs.url}/_sandbox/faults")
    r = requests.get(f"{hs.url}{CONTACTS}/{email}", params={"idProperty": "email",
                                                             "properties": "firstname"},
                     headers={"Authorization": "Bearer sandbox-token"})
    return r.json() if r.status_code == 200 else None


def injected(hs):
    return requests.get(f"{hs.url}/_sandbox/faults/injected").json()


def test_lost_error_applies_then_answers_an_error_status(hs, http):
    faults(hs, lost_error_rate=1.0, lost_statuses=[504])
    r = upsert(http, hs.url, "lost@x.com")
    assert r.status_code == 504
    assert r.json()["category"] == "SANDBOX_FAULT" and "after applying" in r.json()["message"]
    assert stored(hs, "lost@x.com")["properties"]["firstname"] == "Applied"
    assert injected(hs)["lost_error"] == 1


def test_lost_html_applies_then_answers_a_gateway_page(hs, http):
    faults(hs, lost_html_rate=1.0)
    r = upsert(http, hs.url, "html@x.com")
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in r.text
    with pytest.raises(ValueError):
        r.json()
    assert stored(hs, "html@x.com") is not None
    assert injected(hs)["lost_html"] == 1


def test_lost_drop_applies_then_closes_the_connection(hs, http):
    faults(hs, lost_drop_rate=1.0)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        upsert(http, hs.url, "drop@x.com")
    assert stored(hs, "drop@x.com")["properties"]["firstname"] == "Applied"
    assert injected(hs)["lost_drop"] == 1
    assert {"method": "POST", "route": f"{CONTACTS.replace('contacts', '{objectType}')}"
            "/batch/upsert", "status": 0, "count": 1} in hs.stats()["requests"]


def test_hang_applies_and_holds_the_answer_past_the_client_timeout(hs, http):
    faults(hs, hang_rate=1.0, hang_s=5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        upsert(http, hs.url, "hang@x.com", timeout=0.3)
    assert stored(hs, "hang@x.com")["properties"]["firstname"] == "Applied"
    assert injected(hs)["hang"] == 1


def test_hang_shorter_than_the_timeout_is_a_slow_but_whole_answer(hs, http):
    faults(hs, hang_rate=1.0, hang_s=0.2)
    r = upsert(http, hs.url, "slow@x.com")
    assert r.status_code == 200 and r.json()["results"][0]["new"] is True
    assert r.elapsed.total_seconds() >= 0.2


def test_truncate_answers_2xx_with_a_cut_body_after_applying(hs, http):
    faults(hs, truncate_rate=1.0)
    r = http.post(f"{hs.url}{CONTACTS}", json={"properties": {"email": "cut@x.com"}})
    assert r.status_code == 201
    assert int(r.headers["content-length"]) == len(r.content) > 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert stored(hs, "cut@x.com") is not None
    assert injected(hs)["truncate"] == 1


def test_truncate_leaves_errors_and_empty_answers_whole(hs, http):
    faults(hs, truncate_rate=1.0)
    missing = http.get(f"{hs.url}{CONTACTS}/999999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert http.delete(f"{hs.url}{CONTACTS}/999999").status_code == 204
    assert injected(hs)["truncate"] == 0


def test_counts_by_kind_survive_reconfiguration_and_clear_on_reset(hs, http):
    faults(hs, error_rate=1.0, statuses=[503])
    http.get(f"{hs.url}{CONTACTS}")
    faults(hs, lost_error_rate=1.0)
    upsert(http, hs.url, "count@x.com")
    counts = injected(hs)
    assert set(counts) == set(KINDS) | {"total"}
    assert counts["error"] == 1 and counts["lost_error"] == 1 and counts["total"] == 2
    assert hs.faults_injected() == counts == hs.stats()["faults_injected"]
    assert requests.delete(f"{hs.url}/_sandbox/faults/injected").status_code == 204
    assert injected(hs)["total"] == 0
    http.get(f"{hs.url}{CONTACTS}")
    requests.post(f"{hs.url}/_sandbox/reset")
    assert injected(hs)["total"] == 0


def outcome(http, url):
    """What the client saw for one read: a fault kind it can tell apart, or 'ok'."""
    try:
        r = http.get(f"{url}{CONTACTS}", timeout=2)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        return "closed"
    if r.status_code != 200:
        return f"{r.status_code} {r.headers['content-type'].split(';')[0]}"
    try:
        r.json()
    except ValueError:
        return "cut"
    return "ok"


def test_mixed_rates_are_seeded_and_every_kind_shows(hs, http):
    cfg = {f"{kind}_rate": 0.04 for kind in KINDS}
    cfg.update(seed=7, hang_s=0.01, statuses=[503], lost_statuses=[504])
    faults(hs, **cfg)
    first = [outcome(http, hs.url) for _ in range(300)]
    counts = injected(hs)
    assert all(counts[kind] > 0 for kind in KINDS), counts
    assert 0.15 < first.count("ok") / 300 < 0.95
    assert counts["total"] == 300 - first.count("ok") + counts["hang"]  # a short hang is ok
    faults(hs, **cfg)
    assert [outcome(http, hs.url) for _ in range(300)] == first


@pytest.mark.parametrize("bad", [{"lost_drop_rate": 1.5}, {"hang_s": -1},
                                 {"truncate_rate": "often"}, {"lost_statuses": ["x"]}])
def test_bad_new_settings_are_refused(hs, bad):
    r = requests.post(f"{hs.url}/_sandbox/faults", json=bad)
    assert r.status_code == 400 and r.json()["status"] == "error"


def test_non_json_fault_body_is_a_400(hs):
    r = requests.post(f"{hs.url}/_sandbox/faults", data=b"{nope")
    assert r.status_code == 400 and "not JSON" in r.json()["message"]


def test_start_settings_from_constructor_and_cli():
    cfg = {"lost_error_rate": 1.0, "lost_statuses": [502], "seed": 3}
    assert parser().parse_args(["--faults", json.dumps(cfg)]).faults == cfg
    with pytest.raises(SystemExit):
        parser().parse_args(["--faults", '{"typo_rate": 1}'])
    with HubSpotSandbox(port=0, faults=cfg) as sb:
        assert sb.faults.describe()["lost_error_rate"] == 1.0
        sb.configure_faults()
        sb.reset()  # back to the settings the sandbox started with
        r = requests.post(f"{sb.url}{CONTACTS}", json={"properties": {"email": "s@x.com"}},
                          headers={"Authorization": "Bearer sandbox-token"})
        assert r.status_code == 502 and sb.state.counts()["contacts"] == 1
        assert sb.faults_injected()["lost_error"] == 1
