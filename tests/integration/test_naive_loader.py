"""The benchmark's plain loader (bench/naive_loader.py, the official SDK) against the HubSpot
sandbox at no latency: it writes every record, links every member to its company, sends the
same calls again the next run without duplicating anything, and rides out 429s."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def naive_module() -> Any:
    module = sys.modules.get("naive_loader")
    if module is None:
        spec = importlib.util.spec_from_file_location("naive_loader",
                                                      ROOT / "bench" / "naive_loader.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["naive_loader"] = module
        spec.loader.exec_module(module)
    return module


def requests_by_status(sandbox: Any) -> dict[int, int]:
    out: dict[int, int] = {}
    for r in sandbox.stats()["requests"]:
        if not r["route"].startswith("/_sandbox"):
            out[r["status"]] = out.get(r["status"], 0) + r["count"]
    return out


@pytest.mark.officernd_scale(300)
def test_the_plain_loader_upserts_everything_every_run(hubspot_sandbox, officernd_sandbox) -> None:
    from hubspot_sync.sources.officernd import OfficeRnDSource

    naive = naive_module()
    hs, od = hubspot_sandbox, officernd_sandbox
    naive.prepare_portal(hs.state)
    source = OfficeRnDSource.from_url(od.url, "sandbox-client", "sandbox-secret", "sandbox",
                                      token_url=f"{od.url}/oauth/token")
    companies, members = naive.read_officernd(source)
    loader = naive.NaiveLoader(hs.url, hs.token)

    first = loader.run(companies, members)

    objects = hs.stats()["objects"]
    assert objects["companies"] == len(companies) == first.records["companies"]
    # HubSpot refuses invalid emails input by input; every other member is a contact.
    assert objects["contacts"] == len(members) - first.errors > 0.9 * len(members)
    linked = [m for m in members if m.get("company")]
    assert 0 < first.associated <= len(linked)
    expected_calls = (math.ceil(len(companies) / 100) + math.ceil(len(members) / 100)
                      + math.ceil(first.associated / 100))
    assert first.calls == expected_calls == sum(requests_by_status(hs).values())
    # A member's contact carries its OfficeRnD id and is linked to its company's record.
    member = next(m for m in linked if "@" in (m.get("email") or ""))
    contact = hs.state.get_object("contacts", member["_id"], id_property="officernd_id")
    company = hs.state.get_object("companies", member["company"], id_property="officernd_id")
    linked_to = hs.state.assoc_list("contacts", contact["id"], "companies")["results"]
    assert [str(r["toObjectId"]) for r in linked_to] == [str(company["id"])]

    # The next run: same calls, no new records; a fifth of the calls answered 429 first.
    hs.configure_faults(error_rate=0.2, statuses=[429], seed=3)
    second = loader.run(companies, members)
    assert second.calls == first.calls and second.associated == first.associated
    assert hs.stats()["objects"]["contacts"] == objects["contacts"]
    assert hs.stats()["objects"]["companies"] == objects["companies"]
    assert requests_by_status(hs).get(429, 0) > 0, "429s were answered and retried"
