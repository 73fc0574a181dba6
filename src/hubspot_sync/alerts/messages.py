"""What an alert says: the entity, the run, the reason and a link to the DAG run, as an
email (subject, plain text, HTML) and as a Slack-compatible webhook body (``{"text"}``).

Pure functions, no I/O. Nothing personal or secret goes out: ids, rules, counts and the
error's first line with e-mail addresses, URL paths, tokens and quoted values masked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

SUBJECT_PREFIX = "[hubspot-sync]"
MAX_REASON = 300

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s'\"<>]+)[^\s'\"<>]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_KV = re.compile(r"(?i)\b(token|access_token|password|secret|api_?key|hapikey|"
                        r"client_secret|authorization)(\s*[=:]\s*)\S+")
_URL_PATH = re.compile(r"(?i)(\burl:\s*)/\S+")
_QUOTED = re.compile(r"'[^'\n]{1,200}'|\"[^\"\n]{1,200}\"")


def redact(text: str) -> str:
    """``text`` with what could be personal or secret masked: e-mail addresses, URL paths
    and queries (a webhook's path is its secret), bearer tokens, ``key=value`` secrets and
    quoted values (error messages quote the offending value)."""
    text = _EMAIL.sub("<email>", text)
    text = _URL.sub(lambda m: f"{m.group(1)}/…" if len(m.group(0)) > len(m.group(1))
                    else m.group(0), text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} <redacted>", text)
    text = _SECRET_KV.sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", text)
    text = _URL_PATH.sub(lambda m: f"{m.group(1)}/…", text)
    return _QUOTED.sub("'…'", text)


def reason_of(error: BaseException | str | None, limit: int = MAX_REASON) -> str:
    """The first line of an error, with its type, redacted and shortened."""
    if error is None:
        return "task failed (no exception recorded)"
    text = str(error) if isinstance(error, str) else f"{type(error).__name__}: {error}"
    first = redact((text.strip().splitlines() or [""])[0])
    return first if len(first) <= limit else first[:limit - 1] + "…"


def dag_run_url(base_url: str, dag_id: str, run_id: str) -> str:
    """The DAG run in Airflow's UI (Airflow 3: ``/dags/<dag_id>/runs/<run_id>``)."""
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def task_url(base_url: str, dag_id: str, run_id: str, task_id: str) -> str:
    return f"{dag_run_url(base_url, dag_id, run_id)}/tasks/{quote(task_id, safe='')}"


def dag_url(base_url: str, dag_id: str) -> str:
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}"


@dataclass(frozen=True)
class Alert:
    """One message to people. ``facts`` are (label, value) lines shown in order."""

    kind: str  # run_failed | reject_threshold | behind | new_rejects
    title: str
    reason: str
    entity: str | None = None
    run_id: str | None = None
    link: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    details: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[tuple[str, str]]:
        out = [("entity", self.entity), ("run", self.run_id), ("reason", self.reason)]
        out += list(self.facts)
        out.append(("link", self.link))
        return [(k, v) for k, v in out if v]

    def subject(self) -> str:
        return f"{SUBJECT_PREFIX} {self.title}"

    def text(self) -> str:
        body = [self.title, *(f"{k}: {v}" for k, v in self.lines())]
        if self.details:
            body += ["", *self.details]
        return "\n".join(body)

    def html(self) -> str:
        rows = "".join(f"<tr><th align=\"left\">{html.escape(k)}</th><td>"
                       + (f"<a href=\"{html.escape(v)}\">{html.escape(v)}</a>"
                          if k == "link" else html.escape(v)) + "</td></tr>"
                       for k, v in self.lines())
        details = "".join(f"<li>{html.escape(d)}</li>" for d in self.details)
        return (f"<h3>{html.escape(self.title)}</h3><table>{rows}</table>"
                + (f"<ul>{details}</ul>" if details else ""))

    def webhook_payload(self) -> dict[str, Any]:
        """Slack-compatible incoming-webhook body (also accepted by Mattermost, Rocket.Chat
        and Teams' Slack-compatible connectors)."""
        return {"text": self.text()}


def failure_alert(entity: str, dag_id: str, run_id: str, task_id: str | None,
                  error: BaseException | None, base_url: str,
                  try_number: int | None = None) -> Alert:
    """A failed task of an entity run; a reject threshold exceeded is named as such, with
    the validation counts and the rules that failed (rule names and counts only)."""
    from hubspot_sync.steps.context import RejectThresholdExceeded

    link = dag_run_url(base_url, dag_id, run_id)
    facts: list[tuple[str, str]] = []
    if task_id:
        facts.append(("step", task_id))
        facts.append(("task log", task_url(base_url, dag_id, run_id, task_id)))
    if try_number:
        facts.append(("attempt", str(try_number)))
    if isinstance(error, RejectThresholdExceeded):
        counts = error.counts
        rules = counts.get("rule_counts") or {}
        facts.insert(0, ("rejected", f"{counts.get('rejected', '?')} of "
                                     f"{counts.get('considered', '?')} records"))
        if rules:
            facts.insert(1, ("rules", rule_list(rules)))
        return Alert("reject_threshold", f"{entity}: reject threshold exceeded, nothing "
                     "written", reason_of(str(error)), entity, run_id, link, tuple(facts))
    step = f" in {task_id}" if task_id else ""
    return Alert("run_failed", f"{entity}: run failed{step}", reason_of(error), entity,
                 run_id, link, tuple(facts))


def rule_list(rule_counts: Mapping[str, Any], limit: int = 10) -> str:
    """``rule 12, other 3`` by count, the largest first."""
    items = sorted(rule_counts.items(), key=lambda kv: (-int(kv[1] or 0), str(kv[0])))
    shown = ", ".join(f"{k} {v}" for k, v in items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def behind_alert(entity: str, dag_id: str, hours_behind: float, threshold: float,
                 last_success_end: datetime | None, latest_run_id: str | None,
                 latest_status: str | None, base_url: str) -> Alert:
    """An entity whose last successful window ended more than ``threshold`` hours ago."""
    since = (f"last successful window ended {last_success_end.isoformat(timespec='seconds')}"
             if last_success_end else "no successful run yet")
    facts = [("behind", f"{hours_behind:.1f} h (threshold {threshold:g} h)"),
             ("latest run status", latest_status or "none")]
    link = (dag_run_url(base_url, dag_id, latest_run_id) if latest_run_id
            else dag_url(base_url, dag_id))
    return Alert("behind", f"{entity}: {hours_behind:.1f} hours behind", since, entity,
                 latest_run_id, link, tuple(facts))


def digest_alert(groups: Sequence[Mapping[str, Any]], since: datetime | None,
                 until: datetime, dag_of: Mapping[str, str], base_url: str,
                 digest_link: str | None = None) -> Alert | None:
    """One message for all rejects first seen in ``[since, until)``, grouped by entity and
    rule: counts, a few example source ids, the latest run that found them (with a link).
    None when there is nothing new."""
    if not groups:
        return None
    total = sum(int(g["count"]) for g in groups)
    entities = sorted({str(g["entity"]) for g in groups})
    details = [_group_line(g, dag_of, base_url) for g in groups]
    window = (f"first seen {since.isoformat(timespec='seconds')} to "
              f"{until.isoformat(timespec='seconds')}" if since else
              f"open rejects first seen before {until.isoformat(timespec='seconds')}")
    runs = sorted({str(g["latest_run_id"]) for g in groups if g.get("latest_run_id")})
    return Alert("new_rejects", f"{total} new rejects ({', '.join(entities)})",
                 f"{total} records held back in {len(groups)} rule group(s); {window}",
                 ", ".join(entities), ", ".join(runs[:5]) + (" …" if len(runs) > 5 else ""),
                 digest_link, (), tuple(details))


def _group_line(group: Mapping[str, Any], dag_of: Mapping[str, str], base_url: str) -> str:
    entity = str(group["entity"])
    what = f"rule {group['rule']}" + (f" on {group['property']}" if group.get("property")
                                      else "")
    origin = str(group.get("source") or "validation")
    if group.get("category"):
        origin += f" {group['category']}"
    examples: Iterable[str] = group.get("examples") or ()
    line = (f"{entity}: {group['count']} × {what} ({origin}); e.g. "
            f"{', '.join(map(str, examples)) or '-'}")
    run_id = group.get("latest_run_id")
    if run_id:
        dag_id = dag_of.get(entity, f"sync_{entity}")
        line += f"; run {run_id}: {dag_run_url(base_url, dag_id, str(run_id))}"
    return line
