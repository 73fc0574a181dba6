"""The deployment's UI in a real browser (headless Chromium, tests/browser_support.py): log
in with the SimpleAuthManager user, see the six sync DAGs and no import error, read a DAG's
mapping table in its docs, find the four run parameters in the trigger form and trigger a
dry run from it, which succeeds. Screenshots: screenshots/cluster-*.png.

Shares the session's cluster with test_distributed.py (started once for both)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.browser_support import chrome, screenshot

# One cluster for both files (a session fixture): keep them on one xdist worker.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200), pytest.mark.xdist_group("cluster")]

SYNC_DAGS = ["sync_companies", "sync_contracts", "sync_members", "sync_opportunities",
             "sync_plans", "sync_resources"]
PARAMETERS = {"full_refresh": "Full refresh", "dry_run": "Dry run", "since": "Since",
              "until": "Until"}


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # the page is still rendering: elements come and go
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def body_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def dialog(driver: Any, title: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.XPATH, f"//*[@role='dialog'][.//*[contains(text(),'{title}')]]")


def test_ui_login_dags_docs_trigger_form_and_a_dry_run(cluster) -> None:
    from selenium.webdriver.common.by import By

    dag_id = "sync_plans"
    cluster.unpause(dag_id)  # a paused DAG's runs stay queued
    before = {r["dag_run_id"] for r in cluster.runs(dag_id)}
    with chrome(width=1280, height=800) as d:
        # ---- log in (SimpleAuthManager's form), land on the home page
        d.get(cluster.api_url + "/")
        wait_for(lambda: d.find_element(By.NAME, "username"), what="the login form")
        d.find_element(By.NAME, "username").send_keys("admin")
        d.find_element(By.NAME, "password").send_keys(cluster.password)
        d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        home = wait_for(lambda: "Active Dags" in body_text(d) and body_text(d),
                        what="the home page")
        assert "Import Error" not in home, home[:800]
        screenshot(d, "cluster-home")

        # ---- the DAG list: the six sync DAGs (a tall window: every card in one picture)
        d.set_window_size(1280, 1500)
        d.get(cluster.api_url + "/dags?tags=hubspot-sync")
        text = wait_for(lambda: all(n in body_text(d) for n in SYNC_DAGS) and body_text(d),
                        what="the six sync DAGs in the list")
        assert "broken-mapping" not in text
        screenshot(d, "cluster-dag-list")
        d.set_window_size(1280, 800)

        # ---- a DAG's docs: the mapping table
        d.get(f"{cluster.api_url}/dags/{dag_id}")
        wait_for(lambda: d.find_element(By.CSS_SELECTOR, "button[aria-label='Dag Docs']"),
                 what="the Dag Docs button").click()
        docs = wait_for(lambda: dialog(d, "Dag Documentation"), what="the docs")
        wait_for(lambda: docs.find_elements(By.TAG_NAME, "table"), what="the mapping table")
        assert "Property mapping" in docs.text
        headers = [th.text for th in docs.find_elements(By.TAG_NAME, "th")]
        assert headers[:2] == ["OfficeRnD", "HubSpot"], headers
        assert "officernd_id" in docs.find_element(By.TAG_NAME, "table").text
        screenshot(d, "cluster-dag-docs")
        docs.find_element(By.CSS_SELECTOR, "button").click()  # its close button

        # ---- the trigger form: the four parameters; a dry run from it
        d.get(f"{cluster.api_url}/dags/{dag_id}")
        wait_for(lambda: d.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"),
                 what="the Trigger button").click()
        form = wait_for(lambda: dialog(d, "Trigger Dag"), what="the trigger form")
        wait_for(lambda: "Run Parameters" in form.text, what="the run parameters")
        for label in PARAMETERS.values():
            assert form.find_elements(
                By.XPATH, f".//label[normalize-space(text())='{label}']"), label
        for name in ("full_refresh", "dry_run"):
            assert form.find_element(By.NAME, f"element_{name}").get_attribute("type") == \
                "checkbox"
        dry_run = form.find_element(By.NAME, "element_dry_run")
        assert not dry_run.is_selected()
        d.find_element(By.ID, "switch:element_dry_run").click()
        wait_for(lambda: dry_run.is_selected(), what="the dry-run switch on")
        screenshot(d, "cluster-trigger-form")
        trigger = [b for b in form.find_elements(By.TAG_NAME, "button") if b.text == "Trigger"]
        assert trigger, "no Trigger button in the form"
        trigger[0].click()

        run = wait_for(lambda: next(r for r in cluster.runs(dag_id)
                                    if r["dag_run_id"] not in before),
                       what="the run triggered from the form")
        assert run["conf"].get("dry_run") is True, run["conf"]
        assert run["run_type"] == "manual"
        done = cluster.wait_runs_done([dag_id], timeout=900,
                                      run_ids={dag_id: run["dag_run_id"]})[dag_id][0]
        assert done["state"] == "success", done

        # ---- the run in the UI: success
        d.get(f"{cluster.api_url}/dags/{dag_id}/runs/{run['dag_run_id']}")
        wait_for(lambda: "success" in body_text(d).lower() and "report" in body_text(d),
                 what="the run page showing success")
        screenshot(d, "cluster-dag-run")
