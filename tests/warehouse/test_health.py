"""The sync-health queries on SQLite and PostgreSQL: figures per entity from rows written
through the Warehouse API, keyset pages, children under their parent's DAG, the rendered
page (links, no rejected values), and the indexes the queries rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from hubspot_sync.health.page import render_index, render_page
from hubspot_sync.health.queries import HealthQueries, iter_pages
from hubspot_sync.health.report import collect, human_duration

W1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
NOW = W1 + timedelta(hours=2, minutes=5)


def _run(wh, entity, run_id, status="success", window_end=W1, dry_run=False, **counts):
    wh.start_run(entity, run_id, window_start=window_end - timedelta(hours=1),
                 window_end=window_end, dry_run=dry_run)
    wh.finish_run(entity, run_id, status, counts)


def _members(wh) -> None:
    _run(wh, "members", "scheduled__1", window_end=W1 - timedelta(hours=1), extracted=9)
    _run(wh, "members", "scheduled__2", window_end=W1, extracted=5, created=2, updated=1,
         rejected=7)
    # later, but neither moves the watermark: a failed run and a dry run
    _run(wh, "members", "scheduled__3", status="failed", window_end=W1 + timedelta(hours=1),
         details={"error": "HTTPError: 502", "failed_step": "load"})
    wh.start_run("members", "manual__dry", window_end=W1 + timedelta(hours=2), dry_run=True)
    wh.write_delta("members", "manual__dry", [
        {"source_id": "m1", "action": "create", "changed_fields": ["email", "firstname"],
         "before": {}, "after": {"email": "a@x.com", "firstname": "Ann"}},
        {"source_id": "m2", "hubspot_id": "202", "action": "update",
         "changed_fields": ["email"], "before": {"email": "old@x.com", "firstname": "Bo"},
         "after": {"email": "new@x.com", "firstname": "Bo"}},
        {"source_id": "m3", "hubspot_id": "203", "action": "unchanged", "changed_fields": [],
         "before": {}, "after": {}},
    ])
    wh.finish_run("members", "manual__dry", "success", {"extracted": 3})
    wh.record_rejects("members", "scheduled__2", [
        *({"source_id": f"e{i}", "rule": "email", "property": "email",
           "value": f"jane{i} at example.com", "reason": f"not an email address (#{i})"}
          for i in range(5)),
        *({"source_id": f"r{i}", "rule": "required", "property": "email", "value": None,
           "reason": "email is required"} for i in range(2)),
        {"source_id": "fixed", "rule": "email", "property": "email", "value": "x",
         "reason": "not an email address"},
    ])
    wh.resolve_rejects("members", "scheduled__3", ["fixed"])
    wh.add_pending_associations("members", "scheduled__2", [
        {"source_id": "m5", "to_entity": "companies", "to_source_id": "c9", "type_id": 279,
         "reason": "c9 is not synced to HubSpot yet"},
        {"source_id": "m6", "to_entity": "companies", "to_source_id": "c9", "type_id": 279,
         "reason": "c9 is not synced to HubSpot yet"},
    ])


def test_figures_per_entity(wh):
    _members(wh)
    _run(wh, "companies", "scheduled__2", window_end=W1 + timedelta(minutes=30))
    health = collect(HealthQueries.of(wh), now=NOW)
    assert [e["entity"] for e in health["entities"]] == ["companies", "members"]
    m = health["entities"][1]
    assert m["dag_id"] == "sync_members"
    assert m["watermark"] == W1
    assert m["behind_seconds"] == 2 * 3600 + 300 and m["behind"] == "2 h 5 min"
    assert [r["run_id"] for r in m["runs"]] == ["manual__dry", "scheduled__3", "scheduled__2",
                                               "scheduled__1"]
    assert m["last_status"] == "success" and m["runs"][0]["dry_run"] is True
    failed = m["runs"][1]
    assert (failed["status"], failed["error"], failed["failed_step"]) == (
        "failed", "HTTPError: 502", "load")
    assert (m["runs"][2]["created"], m["runs"][2]["rejected"]) == (2, 7)
    assert m["open_rejects"] == 7
    assert [(g["rule"], g["open"]) for g in m["rejects_by_rule"]] == [("email", 5),
                                                                      ("required", 2)]
    examples = m["rejects_by_rule"][0]["examples"]
    assert [(x["source_id"], x["reason"]) for x in examples] == [
        ("e0", "not an email address (#0)"), ("e1", "not an email address (#1)"),
        ("e2", "not an email address (#2)")]
    assert all("value" not in x for x in examples)
    assert m["pending_associations"] == 2
    assert m["pending_by_target"] == [{"to_entity": "companies", "waiting": 2}]
    plan = m["plan"]
    assert plan["run_id"] == "manual__dry"
    assert plan["actions"] == {"create": 1, "update": 1, "unchanged": 1}
    assert plan["fields"] == [{"field": "email", "writes": 2}, {"field": "firstname", "writes": 1}]
    assert m["conflicts"] == 0 and m["conflict_examples"] == []
    c = health["entities"][0]
    assert (c["open_rejects"], c["pending_associations"], c["plan"]) == (0, 0, None)
    assert c["behind"] == "1 h 35 min"


def test_plan_page_shows_each_field_before_and_after(wh):
    _members(wh)
    page = HealthQueries.of(wh).plan_page("members", "manual__dry")
    assert [(r["source_id"], r["action"], r["changes"]) for r in page.rows] == [
        ("m1", "create", [("email", None, "a@x.com"), ("firstname", None, "Ann")]),
        ("m2", "update", [("email", "old@x.com", "new@x.com")])]
    assert page.next_after is None and page.prev_before is None


def test_open_rejects_page_by_id_both_ways(wh):
    wh.start_run("members", "r1")
    wh.record_rejects("members", "r1", [
        {"source_id": f"s{i:03}", "rule": "email", "property": "email", "value": "v",
         "reason": "bad"} for i in range(120)])
    wh.resolve_rejects("members", "r1", ["s007"])
    q = HealthQueries.of(wh)
    pages = list(iter_pages(q.rejects_page, entity="members", rule="email", limit=50))
    assert [len(p.rows) for p in pages] == [50, 50, 19]
    ids = [r["source_id"] for p in pages for r in p.rows]
    assert ids == [f"s{i:03}" for i in range(120) if i != 7]
    assert pages[0].prev_before is None and pages[2].next_after is None
    back = q.rejects_page("members", "email", before=pages[2].prev_before, limit=50)
    assert back.rows == pages[1].rows
    assert back.next_after == pages[1].next_after and back.prev_before == pages[1].prev_before
    first = q.rejects_page("members", "email", before=pages[1].prev_before, limit=50)
    assert first.rows == pages[0].rows and first.prev_before is None
    assert q.rejects_page("members", "email", limit=500).rows[-1]["source_id"] == "s119"
    assert q.rejects_page("members", "unknown").rows == []


def test_child_entity_belongs_to_its_parents_dag(wh):
    _run(wh, "contracts", "manual__1")
    _run(wh, "contracts_line_items", "manual__1")
    _run(wh, "members", "manual__1")
    health = collect(HealthQueries.of(wh), now=NOW)
    assert {e["entity"]: e["dag_id"] for e in health["entities"]} == {
        "contracts": "sync_contracts", "contracts_line_items": "sync_contracts",
        "members": "sync_members"}
    assert health["entities"][1]["runs"][0]["dag_id"] == "sync_contracts"


def test_only_entities_whose_dag_the_user_may_read(wh):
    _members(wh)
    _run(wh, "companies", "manual__1")
    health = collect(HealthQueries.of(wh), can_read=lambda dag: dag != "sync_members", now=NOW)
    assert [e["entity"] for e in health["entities"]] == ["companies"]


def test_a_warehouse_no_run_created_reads_as_empty(database):
    from hubspot_sync.warehouse import Warehouse

    url, schema = database
    wh = Warehouse(url, schema=schema)
    try:
        assert collect(HealthQueries.of(wh), now=NOW) == {"generated_at": NOW, "entities": []}
        assert wh.revision() is None  # reading never migrates
    finally:
        wh.dispose()


def test_conflicts_are_counted_with_the_latest_shown(wh):
    _run(wh, "members", "manual__1")
    q = HealthQueries.of(wh)
    assert q.conflict_count("members") == 0 and q.recent_conflicts("members") == []
    wh.record_conflicts("members", "manual__1", [
        {"source_id": f"m{i}", "hubspot_id": f"h{i}", "property": "phone",
         "officernd_value": f"+1 {i}", "officernd_changed_at": W1,
         "hubspot_value": f"+2 {i}", "hubspot_changed_at": W1 + timedelta(minutes=i),
         "rule": "latest_wins", "winner": "hubspot"} for i in range(1, 4)])
    wh.record_conflicts("companies", "manual__1", [
        {"source_id": "c1", "property": "name", "officernd_value": "A", "hubspot_value": "B",
         "rule": "officernd_wins", "winner": "officernd"}])
    assert q.conflict_count("members") == 3
    latest = q.recent_conflicts("members", 2)
    assert [(c["source_id"], c["winner"]) for c in latest] == [("m3", "hubspot"),
                                                               ("m2", "hubspot")]
    assert latest[0]["hubspot_changed_at"] == W1 + timedelta(minutes=3)
    assert (latest[0]["officernd_value"], latest[0]["hubspot_value"]) == ("+1 3", "+2 3")
    html = render_index(collect(q, now=NOW), warehouse="sqlite:///w.db")
    assert "3 decided by their rule" in html and "latest_wins" in html and "+2 3" in html
    with wh.engine.begin() as conn:  # a warehouse older than revision 0010
        wh.tables["sync_conflicts"].drop(conn)
    assert q.conflict_count("members") is None and q.recent_conflicts("members") == []


def test_page_links_runs_and_shows_no_rejected_values(wh):
    _members(wh)
    health = collect(HealthQueries.of(wh), now=NOW)
    html = render_index(health, warehouse="sqlite:///w.db")
    assert 'href="../dags/sync_members/runs/scheduled__2"' in html
    assert 'href="rejects?entity=members&amp;rule=email"' in html
    assert "not an email address (#0)" in html and "2 h 5 min" in html
    assert "jane0 at example.com" not in html  # the reason, not the value
    assert "none recorded" in html  # two-way conflicts
    page = HealthQueries.of(wh).rejects_page("members", "email", limit=2)
    html = render_page(heading="h", subheading="s", columns=["source_id", "reason"],
                       page=page, params={"entity": "members", "rule": "email", "limit": 2})
    assert f'href="?entity=members&amp;rule=email&amp;limit=2&amp;after={page.next_after}"' \
        in html


def test_examples_and_pages_read_an_index_in_id_order(wh):
    """No sort of an entity's open rejects: the oldest three, or page 40, come straight
    off an index in id order (SQLite: an (entity, rule, ...) index, which ends in the
    rowid; PostgreSQL: its primary key or the partial ix_rejects_open_rule_id of revision
    0005, as its statistics favour)."""
    wh.start_run("members", "r1")
    wh.record_rejects("members", "r1", [
        {"source_id": f"s{i}", "rule": "email" if i % 3 else "required", "property": "email",
         "value": "v", "reason": "bad"} for i in range(3000)])
    rj = wh.tables["rejects"]
    stmt = (rj.select().where(rj.c.entity == "members", rj.c.rule == "email",
                              rj.c.resolved_at.is_(None), rj.c.id > 1500)
            .order_by(rj.c.id).limit(50))
    sql = str(stmt.compile(wh.engine, compile_kwargs={"literal_binds": True}))
    with wh.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        if wh.schema:
            conn.execute(text(f'SET LOCAL search_path TO "{wh.schema}"'))
        prefix = "EXPLAIN QUERY PLAN " if wh.dialect == "sqlite" else "EXPLAIN "
        plan = " ".join(str(r[-1]) for r in conn.execute(text(prefix + sql)))
    assert "INDEX" in plan.upper(), plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_human_duration():
    assert [human_duration(s) for s in (None, 40, 600, 7500, 3 * 86400 + 4 * 3600)] == [
        "never synced", "40 s", "10 min", "2 h 5 min", "3 d 4 h"]
