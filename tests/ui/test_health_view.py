"""The "Sync health" view in a real Airflow UI, in headless Chromium.

A real sync (companies, members, then a dry run of changed members: the e2e harness,
dag.test() against both sandboxes) fills the warehouse; a real ``airflow api-server``
(SimpleAuthManager, this repository's plugins folder) serves the UI. The browser logs in
through Airflow's login page, opens the view from Airflow's navigation, and checks the
figures shown against the warehouse as its own API (Warehouse) reads them, not through the
view's queries. Screenshots go to screenshots/.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.browser_support import SCREENSHOTS, chrome, screenshot
from tests.e2e.conftest import hold_back_company
from tests.ui.airflow_server import airflow_api_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.officernd_scale(60)]

ROOT = Path(__file__).resolve().parents[2]
README_IMAGE = ROOT / "docs" / "images" / "sync-health.png"
WAIT = 90  # seconds; generous: the UI loads slowly on a busy machine


def shown(value) -> str:
    """A datetime as the view prints it."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "—"


def fill_warehouse(env) -> dict:
    """Companies (one held back), members, then three members renamed and a dry run."""
    officernd = env.officernd
    held = officernd.state.records("companies")[0]["_id"]
    hold_back_company(officernd, held)
    assert env.run("companies")["state"] == "success"
    members = env.run("members")
    assert members["state"] == "success"
    bad = set().union(*officernd.anomalies()["members"].values())
    records = officernd.state.records("members")
    emails = Counter(str(m.get("email") or "").strip().lower() for m in records)
    renamed = [m["_id"] for m in records if m["_id"] not in bad and m["status"] == "active"
               and emails[str(m.get("email") or "").strip().lower()] == 1][:3]
    for i, sid in enumerate(renamed):
        officernd.patch_record("members", sid, {"name": f"Renamed Person{i}"})
    plan = env.run("members", dry_run=True)
    assert plan["state"] == "success"
    return {"run_id": members["run_id"], "dry_run_id": plan["run_id"], "renamed": renamed}


def log_in(driver, server) -> None:
    """Airflow's login page, as a stranger opening the UI meets it (the UI's own redirect
    can land while the form is filled in: then it is filled in again)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.url + "/")
    wait = WebDriverWait(driver, WAIT)
    for attempt in range(3):
        try:
            wait.until(lambda d: "/auth/login" in d.current_url)
            wait.until(ec.presence_of_element_located((By.NAME, "username")))
            driver.find_element(By.NAME, "username").send_keys(server.username)
            driver.find_element(By.NAME, "password").send_keys(server.password)
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait.until(lambda d: "/auth/login" not in d.current_url)
            return
        except WebDriverException:
            if attempt == 2:
                raise


def readme_image(driver, path: Path) -> None:
    """A small PNG of the view for the README: the top of the page at 60 %, saved under
    screenshots/, and as docs/images/sync-health.png with SYNC_UPDATE_README_IMAGE=1."""
    png = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": False,
        "clip": {"x": 0, "y": 0, "width": 1280, "height": 1150, "scale": 0.6}})
    data = base64.b64decode(png["data"])
    assert len(data) < 150_000, f"{len(data)} bytes"
    (SCREENSHOTS / "sync-health-small.png").write_bytes(data)
    if os.environ.get("SYNC_UPDATE_README_IMAGE") == "1":
        path.write_bytes(data)


def test_sync_health_in_the_airflow_ui(sync_env, airflow_db, tmp_path):
    from airflow.configuration import conf

    started = time.monotonic()
    took = {}
    wh = sync_env.warehouse
    with chrome(1280, 1400) as driver, airflow_api_server(
            tmp_path / "airflow-home", conf.get("database", "sql_alchemy_conn"),
            wh.url) as server:
        runs = fill_warehouse(sync_env)  # while the server starts
        took["sync"] = time.monotonic() - started
        server.wait_ready()
        took["server ready"] = time.monotonic() - started
        try:
            check_view(driver, server, wh, runs)
        except Exception:
            screenshot(driver, "sync-health-failure")
            raise
        finally:
            took["browser done"] = time.monotonic() - started
            print("; ".join(f"{k} at {v:.0f} s" for k, v in took.items()))


def check_view(driver, server, wh, runs) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    log_in(driver, server)
    wait = WebDriverWait(driver, WAIT)

    # Airflow's own navigation leads to the view, shown in its iframe.
    wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, "a[href$='plugin/sync-health']"))).click()
    wait.until(ec.frame_to_be_available_and_switch_to_it(
        (By.CSS_SELECTOR, "iframe[title='Sync health']")))
    wait.until(ec.presence_of_element_located((By.ID, "overview")))

    for entity in ("companies", "members"):
        row = driver.find_element(By.CSS_SELECTOR, f"#overview tr[data-entity={entity}]")
        cell = row.find_element
        assert cell(By.CLASS_NAME, "watermark").text == shown(
            wh.last_successful_window_end(entity))
        assert cell(By.CLASS_NAME, "open-rejects").text == \
            f"{len(wh.open_rejects(entity)):,}"
        assert cell(By.CLASS_NAME, "pending").text == \
            f"{len(wh.pending_associations(entity)):,}"
    assert len(wh.pending_associations("members")) > 0  # the held-back company's

    section = driver.find_element(By.ID, "members")
    # runs: newest first, counts as sync_runs has them, each linking to its DAG run
    expected_runs = wh.runs("members", limit=5)
    rows = section.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")
    assert [r.get_attribute("data-run-id") for r in rows] == list(expected_runs.run_id)
    for row, (_, run) in zip(rows, expected_runs.iterrows(), strict=True):
        for key in ("extracted", "created", "rejected"):
            assert row.find_element(By.CLASS_NAME, key).text == f"{run[key]:,}"
    # open rejects by rule, with the oldest examples' reasons
    open_rejects = wh.open_rejects("members")
    by_rule = open_rejects.groupby("rule").size().to_dict()
    assert by_rule, "the seeded bad members are rejected"
    for rule, n in by_rule.items():
        row = section.find_element(By.CSS_SELECTOR, f"table.rejects tr[data-rule='{rule}']")
        assert row.find_element(By.CLASS_NAME, "open").text == f"{n:,}"
        oldest = open_rejects[open_rejects.rule == rule].iloc[0]
        assert f"{oldest.source_id}: {oldest.reason}" in row.text
    # the dry run's plan, field by field
    writes = wh.read_delta("members", runs["dry_run_id"], actions=["create", "update"])
    assert sorted(writes[writes.action == "update"].source_id) == sorted(runs["renamed"])
    plan = section.find_element(By.CLASS_NAME, "plan")
    assert runs["dry_run_id"] in plan.text
    assert f"update {(writes.action == 'update').sum()}" in plan.text
    fields = Counter(name for changed in writes.changed_fields for name in changed or ())
    assert "firstname" in fields, "the renamed members' first names would change"
    shown_fields = section.find_elements(By.CSS_SELECTOR, "table.plan-fields tbody tr")
    assert {r.get_attribute("data-field"): r.find_element(By.CSS_SELECTOR, "td.n").text
            for r in shown_fields} == {k: f"{v:,}" for k, v in fields.items()}
    assert "none recorded" in section.find_element(By.CLASS_NAME, "conflicts").text
    driver.switch_to.default_content()
    screenshot(driver, "sync-health-view")
    readme_image(driver, README_IMAGE)

    # drill-down: every open reject of the largest rule, 50 a page
    rule, n = max(by_rule.items(), key=lambda kv: kv[1])
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe"))
    driver.find_element(By.CSS_SELECTOR, f"tr[data-rule='{rule}'] a.all").click()
    wait.until(ec.presence_of_element_located((By.ID, "rows")))
    ids = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#rows td.source_id")]
    assert ids == list(open_rejects[open_rejects.rule == rule].source_id)[:50]
    driver.switch_to.default_content()
    screenshot(driver, "sync-health-rejects")

    # a run's link opens Airflow's own page of that DAG run, outside the frame (the
    # dry run: dag.test() keeps only a DAG's latest run in the metadata database)
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe"))
    driver.find_element(By.LINK_TEXT, "← Sync health").click()
    wait.until(ec.presence_of_element_located((By.ID, "members")))
    driver.find_element(
        By.CSS_SELECTOR, f"#members tr[data-run-id='{runs['dry_run_id']}'] a").click()
    driver.switch_to.default_content()
    wait.until(lambda d: unquote(d.current_url).endswith(
        f"/dags/sync_members/runs/{runs['dry_run_id']}"))
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Task Instances"))
    wait.until(ec.presence_of_element_located(
        (By.XPATH, "//a[contains(@href, '/runs/') and contains(@href, '/tasks/report')]")))
    assert "was not found" not in driver.find_element(By.TAG_NAME, "body").text
    screenshot(driver, "sync-health-run-link")
