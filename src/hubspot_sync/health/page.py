"""Server-rendered HTML of the sync-health view (Jinja2, autoescaped).

Every link is relative, so the view works under any Airflow base URL: the pages live at
``<base>/sync-health/``, so ``../dags/<dag_id>/runs/<run_id>`` is Airflow's page of a DAG
run. Inside Airflow's iframe a small script opens such links in the Airflow UI around the
frame (the iframe's sandbox forbids navigating the top window, but the frame is
same-origin, so it can ask the UI's router to go there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import DictLoader, Environment, select_autoescape

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{% block title %}Sync health{% endblock %}</title>
<style>
 body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px 20px;
      color:#1a202c;background:#fff}
 h1{font-size:20px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 6px;padding-top:6px;
      border-top:1px solid #e2e8f0} h3{font-size:14px;margin:14px 0 4px;color:#2d3748}
 table{border-collapse:collapse;margin:4px 0 8px;min-width:50%}
 th,td{border-bottom:1px solid #e2e8f0;padding:4px 10px;text-align:left;vertical-align:top}
 th{background:#f7fafc;font-weight:600;font-size:13px} td.n,th.n{text-align:right}
 .muted{color:#718096} .ok{color:#276749;font-weight:600} .bad{color:#c53030;font-weight:600}
 .run{color:#2b6cb0;font-weight:600} .warn{color:#b7791f;font-weight:600}
 a{color:#2b6cb0;text-decoration:none} a:hover{text-decoration:underline}
 code{font-size:12px;background:#f7fafc;padding:0 3px} .nw{white-space:nowrap}
 table.runs,table.runs th{font-size:12px} table.runs td,table.runs th{padding:3px 7px}
 .cols{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:0 28px}
 .pager{margin:8px 0}
 .pager a{margin-right:14px} ul.ex{margin:2px 0 0 0;padding-left:18px;font-size:13px}
</style></head>
<body>{% block body %}{% endblock %}
<script>
// In Airflow's iframe: open run links in the UI around the frame (same origin).
document.addEventListener("click", function (e) {
  var a = e.target.closest ? e.target.closest("a[data-airflow]") : null;
  if (!a || window.top === window) return;
  try {
    var url = new URL(a.href), top = window.top, state = top.history.state || {};
    top.history.pushState({usr: null, key: Math.random().toString(36).slice(2, 10),
                           idx: (state.idx || 0) + 1}, "", url.pathname + url.search);
    top.dispatchEvent(new PopStateEvent("popstate", {state: top.history.state}));
    e.preventDefault();
  } catch (err) { /* not reachable: follow the link inside the frame */ }
});
</script></body></html>
"""

_INDEX = """{% extends "base" %}{% block body %}
<h1>Sync health</h1>
<div class="muted">Warehouse <code>{{ warehouse }}</code> &middot; as of {{ generated_at|dt }}
 &middot; <a href="api/health">JSON</a></div>
{% if not entities %}
<p id="empty">No sync has run against this warehouse yet{% if hidden %}, or none of its DAGs
 is readable for you{% endif %}.</p>
{% else %}
<table id="overview"><thead><tr><th>entity</th><th>DAG</th><th>current up to</th>
 <th>behind now</th><th>last run</th><th class="n">open rejects</th>
 <th class="n">pending associations</th></tr></thead><tbody>
{% for e in entities %}<tr data-entity="{{ e.entity }}">
 <td><a href="#{{ e.entity }}">{{ e.entity }}</a></td><td>{{ e.dag_id }}</td>
 <td class="watermark nw">{{ e.watermark|dt }}</td>
 <td class="behind">{{ e.behind }}</td>
 <td>{{ e.last_status|status }}</td>
 <td class="n open-rejects">{{ e.open_rejects|num }}</td>
 <td class="n pending">{{ e.pending_associations|num }}</td></tr>
{% endfor %}</tbody></table>
{% for e in entities %}
<section id="{{ e.entity }}" class="entity" data-entity="{{ e.entity }}">
<h2>{{ e.entity }}</h2>
<div>Current up to <b>{{ e.watermark|dt }}</b> ({{ e.behind }} behind now).</div>
<h3>Last runs</h3>
<table class="runs"><thead><tr><th>run</th><th>status</th><th>started</th><th>window</th>
 {% for k in count_keys %}<th class="n">{{ k }}</th>{% endfor %}</tr></thead><tbody>
{% for r in e.runs %}<tr data-run-id="{{ r.run_id }}">
 <td><a data-airflow href="{{ r|run_href }}">{{ r.run_id }}</a>
  {% if r.dry_run %}<span class="warn">dry run</span>{% endif %}
  {% if r.full_refresh %}<span class="muted">full refresh</span>{% endif %}</td>
 <td>{{ r.status|status }}{% if r.error %}<div class="muted">{{ r.failed_step or "" }}:
  {{ r.error }}</div>{% endif %}</td>
 <td class="nw">{{ r.started_at|dt }}</td>
 <td class="nw">{{ r.window_start|dt }} &rarr; {{ r.window_end|dt }}</td>
 {% for k in count_keys %}<td class="n {{ k }}">{{ r[k]|num }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<div class="cols"><div>
<h3>Open rejects: {{ e.open_rejects|num }}</h3>
{% if e.rejects_by_rule %}<table class="rejects"><thead><tr><th>rule</th>
 <th class="n">open</th><th>oldest examples (source id: reason)</th></tr></thead><tbody>
{% for g in e.rejects_by_rule %}<tr data-rule="{{ g.rule }}"><td>{{ g.rule }}</td>
 <td class="n open">{{ g.open|num }}</td><td><ul class="ex">
 {% for x in g.examples %}<li><code>{{ x.source_id }}</code>: {{ x.reason }}</li>{% endfor %}
 </ul><a class="all" href="rejects?{{ {'entity': e.entity, 'rule': g.rule}|qs }}">all
 {{ g.open|num }} &rarr;</a></td></tr>
{% endfor %}</tbody></table>{% else %}<div class="muted">none</div>{% endif %}
</div><div>
<h3>Pending associations: {{ e.pending_associations|num }}</h3>
{% if e.pending_by_target %}<table class="pending"><thead><tr><th>to</th>
 <th class="n">waiting</th></tr></thead><tbody>
{% for p in e.pending_by_target %}<tr><td>{{ p.to_entity }}</td>
 <td class="n">{{ p.waiting|num }}</td></tr>{% endfor %}</tbody></table>
<a href="pending?{{ {'entity': e.entity}|qs }}">each association and why it waits &rarr;</a>
{% else %}<div class="muted">none</div>{% endif %}
<h3>Plan of the latest dry run</h3>
{% if e.plan %}<div class="plan">Run <a data-airflow
 href="{{ {'dag_id': e.dag_id, 'run_id': e.plan.run_id}|run_href }}">{{ e.plan.run_id }}</a>
 ({{ e.plan.started_at|dt }}):
 {% for a, n in e.plan.actions|dictsort %}<span class="action" data-action="{{ a }}">{{ a }}
 {{ n|num }}</span>{% if not loop.last %}, {% endif %}{% endfor %}</div>
{% if e.plan.fields %}<table class="plan-fields"><thead><tr><th>field</th>
 <th class="n">records it would set</th></tr></thead><tbody>
{% for f in e.plan.fields %}<tr data-field="{{ f.field }}"><td>{{ f.field }}</td>
 <td class="n">{{ f.writes|num }}</td></tr>{% endfor %}</tbody></table>{% endif %}
<a href="plan?{{ {'entity': e.entity}|qs }}">record by record, before &rarr; after &rarr;</a>
{% else %}<div class="muted">no dry run yet (trigger the DAG with dry_run)</div>{% endif %}
<h3>Two-way conflicts</h3>
<div class="conflicts">{% if e.conflicts is none %}<span class="muted">not enabled</span>
{% elif not e.conflicts %}<span class="muted">none recorded</span>
{% else %}{{ e.conflicts|num }} decided by their rule; the latest:
<table class="conflicts"><thead><tr><th>record</th><th>property</th><th>OfficeRnD</th>
 <th>HubSpot</th><th>rule</th><th>winner</th></tr></thead><tbody>
{% for c in e.conflict_examples %}<tr data-property="{{ c.property }}">
 <td><code>{{ c.source_id }}</code></td><td>{{ c.property }}</td>
 <td class="officernd">{{ c.officernd_value or "(empty)" }}
  <div class="muted nw">{{ c.officernd_changed_at|dt }}</div></td>
 <td class="hubspot">{{ c.hubspot_value or "(empty)" }}
  <div class="muted nw">{{ c.hubspot_changed_at|dt }}</div></td>
 <td>{{ c.rule }}</td><td class="winner">{{ c.winner }}</td></tr>
{% endfor %}</tbody></table>{% endif %}</div>
</div></div>
</section>
{% endfor %}{% endif %}
{% endblock %}"""

_PAGE = """{% extends "base" %}{% block body %}
<div><a href="./">&larr; Sync health</a></div>
<h1>{{ heading }}</h1><div class="muted">{{ subheading }}</div>
{% if page.rows %}<table id="rows"><thead><tr>{% for c in columns %}<th>{{ c }}</th>
{% endfor %}</tr></thead><tbody>
{% for r in page.rows %}<tr data-id="{{ r.id }}">{% for c in columns %}
 <td class="{{ c }}">{% if c == "changes" %}{% for name, old, new in r.changes %}
 <div><b>{{ name }}</b>: {{ old if old is not none else "—" }} &rarr;
  {{ new if new is not none else "—" }}</div>{% endfor %}
 {% else %}{{ r[c]|cell }}{% endif %}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% else %}<p class="muted">Nothing here.</p>{% endif %}
<div class="pager">{% if page.prev_before is not none %}<a class="prev"
 href="?{{ dict(params, before=page.prev_before)|qs }}">&larr; previous</a>{% endif %}
{% if page.next_after is not none %}<a class="next"
 href="?{{ dict(params, after=page.next_after)|qs }}">next &rarr;</a>{% endif %}</div>
{% endblock %}"""


def _dt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _num(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _status(value: Any) -> str:
    from markupsafe import Markup, escape

    css = {"success": "ok", "failed": "bad", "running": "run"}.get(str(value), "muted")
    return Markup(f'<span class="{css}">{escape(value or "no run")}</span>')


def _cell(value: Any) -> str:
    return _dt(value) if isinstance(value, datetime) else ("—" if value is None else str(value))


def _run_href(run: dict[str, Any]) -> str:
    # As the Airflow UI links runs itself: ':' and '+' of a run id stay as they are (its
    # router does not decode %3A / %2B back, so an escaped run id is a 404 there).
    safe = ":+@~"
    return (f"../dags/{quote(str(run['dag_id']), safe=safe)}"
            f"/runs/{quote(str(run['run_id']), safe=safe)}")


def _env() -> Environment:
    env = Environment(loader=DictLoader({"base": _BASE, "index": _INDEX, "page": _PAGE}),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters.update(dt=_dt, num=_num, status=_status, cell=_cell, run_href=_run_href,
                       qs=lambda d: urlencode({k: v for k, v in d.items() if v is not None}))
    return env


ENV = _env()


def render_index(health: dict[str, Any], *, warehouse: str, hidden: bool = False) -> str:
    """The overview: one row and one section per entity (``health`` from collect())."""
    from hubspot_sync.warehouse.schema import COUNT_KEYS

    return ENV.get_template("index").render(**health, warehouse=warehouse, hidden=hidden,
                                            count_keys=COUNT_KEYS)


def render_page(*, heading: str, subheading: str, columns: list[str], page: Any,
                params: dict[str, Any]) -> str:
    """A drill-down table of one keyset page with previous / next links."""
    return ENV.get_template("page").render(heading=heading, subheading=subheading,
                                           columns=columns, page=page, params=params)
