"""HubSpot's answers as Python values: the request error, one refused input, a batch
outcome, and the mapping of HubSpot's error bodies back to the inputs they name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import requests

#: RowError categories the client itself assigns (HubSpot's own come from its bodies).
DUPLICATE_INPUT = "DUPLICATE_INPUT"
INVALID_RESPONSE = "INVALID_RESPONSE"
MISSING_RESULT = "MISSING_RESULT"


class HubSpotError(Exception):
    """A HubSpot request that failed for good: a non-retryable error, the daily limit, a
    retryable error that outlived every attempt, a wait longer than the cap
    (RETRY_WAIT_TOO_LONG), or a batch refused for a reason no single input causes. Carries
    HubSpot's category and message (never the token). ``outcome`` holds what a batch call
    achieved before it failed."""

    def __init__(self, status: int, category: str, message: str,
                 correlation_id: str | None = None, *, context: dict | None = None,
                 route: str | None = None, outcome: BatchOutcome | None = None) -> None:
        self.status = status
        self.category = category
        self.message = message
        self.correlation_id = correlation_id
        self.context = context or {}
        self.route = route
        self.outcome = outcome
        where = f" on {route}" if route else ""
        corr = f" (correlation id {correlation_id})" if correlation_id else ""
        super().__init__(f"HubSpot {status} {category}{where}: {message}{corr}")


@dataclass(frozen=True)
class RowError:
    """One input that was not written. ``trace_id`` is the input's objectWriteTraceId (the
    caller's key), ``input_id`` its id (id-property value, HubSpot id, or ``from:to`` for
    associations), ``status`` the HTTP status of the response that refused it ("207" for an
    entry of a multi-status response, "0" when the client refused it before sending)."""

    trace_id: str | None
    input_id: str | None
    status: str
    category: str
    message: str
    context: dict = field(default_factory=dict)


@dataclass
class BatchOutcome:
    """What a batch write did: HubSpot's results (upserts carry ``new``; each result has the
    input's ``objectWriteTraceId`` when it could be matched) and the inputs not written.
    Every input sent is in exactly one of the two."""

    results: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def response_json(response: requests.Response) -> dict:
    """An error or read body as a dict: ``{}`` when empty, the text as ``message`` when it
    is not JSON, a bare list as ``results``."""
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:500]}
    return body if isinstance(body, dict) else {"results": body}


def is_daily_limit(body: dict) -> bool:
    return (str(body.get("policyName") or "").upper() == "DAILY"
            or "daily limit" in str(body.get("message") or "").lower())


def error_from_response(response: requests.Response, body: dict, route: str) -> HubSpotError:
    """The HubSpotError for a final error response (category, message, correlation id)."""
    status = response.status_code
    category = body.get("category") or body.get("errorType") or f"HTTP_{status}"
    message = body.get("message") or response.reason or ""
    if status == 429 and is_daily_limit(body):
        category = "DAILY_LIMIT"
        message = (f"{message} The portal's daily API limit is spent; not retried. "
                   "Resume after the limit resets (midnight in the portal's time zone).")
    correlation = body.get("correlationId") or response.headers.get("X-HubSpot-Correlation-Id")
    context = body.get("context") if isinstance(body.get("context"), dict) else None
    return HubSpotError(status, str(category), str(message), correlation, context=context,
                        route=route)


# Whole-batch refusals no single input causes (see ../shared/reference/hubspot-api.md):
# bisecting them would only repeat the refusal down to every single input.
_BATCH_LEVEL = (
    re.compile(r"non-unique .*propert", re.IGNORECASE),      # idProperty not unique-valued
    re.compile(r"PROPERTY_DOESNT_EXIST"),                      # the mapping names no property
    re.compile(r"Property \\?\"[^\"]*\\?\" does not exist"),
    re.compile(r"maximum number of inputs", re.IGNORECASE),
    re.compile(r"Unable to infer object type", re.IGNORECASE),
)


def batch_level_reason(exc: HubSpotError) -> bool:
    """True when a 400 refuses a whole batch for a reason of the request, not of an input:
    the id property is not unique-valued, a property does not exist, too many inputs, an
    unknown object type."""
    return exc.status == 400 and any(p.search(exc.message) for p in _BATCH_LEVEL)


# ---------------------------------------------------------------------- error mapping
def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return [str(value)]


def object_input_id(item: dict) -> str | None:
    value = item.get("id")
    return None if value is None else str(value)


def pair_id(item: dict) -> str:
    return f"{item['from']['id']}:{item['to']['id']}"


def _error_parts(error: dict) -> tuple[str, str, dict]:
    raw = error.get("context")
    context: dict = raw if isinstance(raw, dict) else {}
    category = str(error.get("category") or error.get("subCategory") or "ERROR")
    message = str(error.get("message") or "")
    return category, message, context


def map_object_error(error: dict, chunk: list[dict], status: str) -> list[RowError]:
    """Map one 207 error entry back to the inputs it names (by trace id, else by id)."""
    category, message, context = _error_parts(error)
    traces = as_list(context.get("objectWriteTraceId")) + as_list(error.get("objectWriteTraceId"))
    ids = as_list(context.get("ids")) + as_list(context.get("id")) + as_list(error.get("id"))
    by_trace = {str(i.get("objectWriteTraceId")): i for i in chunk}
    by_id: dict[str, dict] = {}
    for item in chunk:
        if item.get("id") is not None:
            by_id.setdefault(str(item["id"]), item)
    rows: list[RowError] = []
    if traces:
        for trace in dict.fromkeys(traces):
            traced = by_trace.get(trace)
            input_id = object_input_id(traced) if traced else (
                ids[0] if len(ids) == 1 else None)
            rows.append(RowError(trace, input_id, status, category, message, context))
    elif ids:
        for value in dict.fromkeys(ids):
            named = by_id.get(value)
            rows.append(RowError(named.get("objectWriteTraceId") if named else None, value,
                                 status, category, message, context))
    else:
        rows.append(RowError(None, None, status, category, message, context))
    return rows


def map_association_error(error: dict, chunk: list[dict], status: str) -> list[RowError]:
    """Map a v4 association 207 error to the pairs whose ids its context names."""
    category, message, context = _error_parts(error)
    named = set()
    for values in context.values():
        named.update(as_list(values) if not isinstance(values, dict) else [])
    hits = [item for item in chunk
            if item["from"]["id"] in named and (item["to"]["id"] in named or len(named) == 1)]
    if not hits:
        hits = [item for item in chunk
                if item["from"]["id"] in named or item["to"]["id"] in named]
    if not hits:
        return [RowError(None, None, status, category, message, context)]
    return [RowError(pair_id(i), pair_id(i), status, category, message, context) for i in hits]
