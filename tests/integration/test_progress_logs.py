"""Progress lines of long reads and writes against the sandboxes: one line per batch with
``every=0``, a closing line with the total, and the API call counts unchanged."""

from __future__ import annotations

import logging
import re

import pytest

from hubspot_sync.progress import Progress
from hubspot_sync.sources.officernd import clear_token_cache
from tests.integration.test_hubspot_hook_sandbox import ID_PROP, _contacts, _hook
from tests.integration.test_officernd_source_sandbox import _source


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hubspot_sync.progress"]


def test_batch_upsert_logs_each_batch_and_a_closing_line(hs_sandbox, caplog):
    _hook(hs_sandbox).ensure_properties("contacts", [ID_PROP])
    hook = _hook(hs_sandbox)
    caplog.set_level(logging.INFO, "hubspot_sync.progress")
    progress = Progress.batched("members load", [250], 100, every=0)
    outcome = hook.batch_upsert("contacts", _contacts(250), "officernd_id", progress=progress)
    progress.done()
    assert outcome.errors == [] and len(outcome.results) == 250
    assert hook.call_count == 3  # progress adds no call
    lines = _lines(caplog)
    # Batches are in flight together and finish in any order: line k counts k finished
    # batches and the records of those (sizes 100, 100 and 50).
    done = [re.match(r"members load: batch (\d) of 3, (\d+) of 250 records, ", line)
            for line in lines[:3]]
    assert all(done), lines
    counts = [(int(m.group(1)), int(m.group(2))) for m in done if m]
    assert [k for k, _ in counts] == [1, 2, 3]
    assert counts[0][1] in (50, 100) and counts[1][1] in (150, 200) and counts[2][1] == 250
    assert lines[3].startswith("members load: 250 records in 3 batches, took ")
    assert len(lines) == 4


def test_batch_read_and_list_pages_count_records(hs_sandbox, caplog):
    _hook(hs_sandbox).ensure_properties("contacts", [ID_PROP])
    hook = _hook(hs_sandbox)
    hook.batch_upsert("contacts", _contacts(150), "officernd_id")
    caplog.set_level(logging.INFO, "hubspot_sync.progress")
    read = Progress.batched("members extract_hubspot", [150], 100, every=0)
    hook.batch_read("contacts", [f"m{i:04d}" for i in range(150)], ["email"],
                    id_property="officernd_id", progress=read)
    listed = Progress("members extract_hubspot", unit="page", every=0)
    assert len(list(hook.list_objects("contacts", ["email"], progress=listed))) == 150
    assert _lines(caplog)[1].startswith(
        "members extract_hubspot: batch 2 of 2, 150 of 150 records, ")
    assert _lines(caplog)[2:] == ["members extract_hubspot: page 1, 100 records so far",
                                  "members extract_hubspot: page 2, 150 records so far"]


def test_officernd_extract_logs_a_closing_line(ornd_sandbox, caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNC_TOKEN_CACHE_DIR", str(tmp_path / "tokens"))
    clear_token_cache()
    caplog.set_level(logging.INFO, "hubspot_sync.progress")
    source = _source(ornd_sandbox)
    records = list(source.extract("members"))
    assert len(records) == 300  # the sandbox's members at scale 300: 6 pages of 50
    assert [line.rsplit(", took ", 1)[0] for line in _lines(caplog)] == [
        "members extract: 300 records in 6 pages"]
    clear_token_cache()
