"""Writes of the public API: create (``POST /{resource}``) and update (``PUT`` or ``PATCH
/{resource}/{id}``) of members, companies and opportunities.

The rules (sources in docs/officernd-sandbox.md, "Writes"): only the fields passed are
changed; a nested object (``address``, ``billingDetails``, ...) is replaced whole, while
``properties`` (custom fields) is merged key by key (a ``null`` value removes the key); a
field the resource does not have, or one the server owns (``_id``, ``createdAt``,
``modifiedAt``, ...), is refused ("property x should not exist", as a NestJS whitelist
does); types, enumerations and referenced ids are checked and every problem is named in
one 400 message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sandbox.officernd.errors import ApiError
from sandbox.officernd.seed import MEMBER_STATUSES
from sandbox.officernd.seed.vocabulary import COMPANY_STATUSES
from sandbox.officernd.times import fmt_ts, parse_ts

if TYPE_CHECKING:
    from sandbox.officernd.state import State

#: The user an API application's writes are stamped with (``createdBy`` / ``modifiedBy``).
API_USER = "5f0c2e1a9b3d4c0012a0b0a1"
WRITABLE = ("members", "companies", "opportunities")
MEMBER_STATUS_VALUES = tuple(s for s, _ in MEMBER_STATUSES)
COMPANY_STATUS_VALUES = tuple(s for s, _ in COMPANY_STATUSES)
ADDRESS_KEYS = frozenset({"country", "state", "city", "street", "zip"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: A field check: (value, state) -> a problem ("must be ..."), or None when the value is fine.
Check = Callable[[Any, "State"], str | None]


def _text(value: Any, _state: State) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string"


def _email(value: Any, _state: State) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "must be a string"
    return None if _EMAIL.match(value.strip()) else "must be an email"


def _boolean(value: Any, _state: State) -> str | None:
    return None if isinstance(value, bool) else "must be a boolean value"


def _number(value: Any, _state: State) -> str | None:
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return None if ok else "must be a number"


def _probability(value: Any, state: State) -> str | None:
    problem = _number(value, state)
    if problem or value is None:
        return problem
    return None if 0 <= value <= 100 else "must not be less than 0 or greater than 100"


def _count(value: Any, _state: State) -> str | None:
    if value is None:
        return None
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "must be a non-negative integer"


def _date(value: Any, _state: State) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return "must be a valid ISO 8601 date string"
    try:
        parse_ts(value)
    except ValueError:
        return "must be a valid ISO 8601 date string"
    return None


def _one_of(values: tuple[str, ...]) -> Check:
    def check(value: Any, _state: State) -> str | None:
        if value in values:
            return None
        return "must be one of the following values: " + ", ".join(values)
    return check


def _ref(resource: str, label: str, nullable: bool = True) -> Check:
    def check(value: Any, state: State) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            return f"must be the id of an existing {label}"
        if value not in state.collections[resource].by_id:
            return f"must be the id of an existing {label} ({value} not found)"
        return None
    return check


def _refs(resource: str, label: str) -> Check:
    one = _ref(resource, label, nullable=False)

    def check(value: Any, state: State) -> str | None:
        if not isinstance(value, list):
            return f"must be an array of {label} ids"
        for item in value:
            problem = one(item, state)
            if problem:
                return f"each value {problem}"
        return None
    return check


def _address(value: Any, _state: State) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return "must be an object"
    extra = sorted(set(value) - ADDRESS_KEYS)
    if extra:
        return "has unknown keys " + ", ".join(extra) + " (allowed: " + \
            ", ".join(sorted(ADDRESS_KEYS)) + ")"
    bad = sorted(k for k, v in value.items() if v is not None and not isinstance(v, str))
    return f"{', '.join(bad)} must be strings" if bad else None


def _object(value: Any, _state: State) -> str | None:
    return None if value is None or isinstance(value, dict) else "must be an object"


def _tags(value: Any, _state: State) -> str | None:
    ok = isinstance(value, list) and all(isinstance(t, str) for t in value)
    return None if ok else "must be an array of strings"


def _properties(value: Any, _state: State) -> str | None:
    if not isinstance(value, dict):
        return "must be an object"
    for key, v in value.items():
        scalar = v is None or isinstance(v, str | int | float | bool)
        listed = isinstance(v, list) and all(isinstance(x, str) for x in v)
        if not (scalar or listed):
            return f"{key} must be a string, number, boolean, array of strings or null"
    return None


_COMMON: dict[str, Check] = {"properties": _properties, "tags": _tags}
FIELDS: dict[str, dict[str, Check]] = {
    "members": {
        **_COMMON, "name": _text, "email": _email, "phone": _text, "image": _text,
        "description": _text, "location": _ref("locations", "location"),
        "company": _ref("companies", "company"), "status": _one_of(MEMBER_STATUS_VALUES),
        "startDate": _date, "isBillingPerson": _boolean, "isContactPerson": _boolean,
        "address": _address, "billingDetails": _object, "portalPrivacy": _object,
        "socialProfiles": _object,
    },
    "companies": {
        **_COMMON, "name": _text, "description": _text, "email": _email, "phone": _text,
        "image": _text, "url": _text, "location": _ref("locations", "location"),
        "status": _one_of(COMPANY_STATUS_VALUES), "startDate": _date, "address": _address,
        "billingDetails": _object, "portalPrivacy": _object,
        "hasActiveMembersAllowance": _boolean, "activeMembersAllowanceLimit": _count,
    },
    "opportunities": {
        "properties": _properties, "name": _text, "company": _ref("companies", "company"),
        "member": _ref("members", "member"),
        "status": _ref("opportunity-statuses", "opportunity status", nullable=False),
        "probability": _probability, "startDate": _date, "dealSize": _number,
        "membersCount": _count, "resources": _refs("resources", "resource"),
        "requestedPlans": _refs("plans", "plan"), "description": _text,
    },
}
#: Fields a create must carry (non-empty).
REQUIRED = {"members": ("name",), "companies": ("name",), "opportunities": ("name", "status")}
DATE_VALUED = frozenset({"startDate"})


def check_body(state: State, resource: str, body: Mapping[str, Any],
               current: Mapping[str, Any] | None) -> None:
    """Raise a 400 naming every problem of a create (``current`` None) or update body."""
    fields = FIELDS[resource]
    problems = [f"property {k} should not exist" for k in body if k not in fields]
    for key, value in body.items():
        check = fields.get(key)
        if check is not None:
            problem = check(value, state)
            if problem:
                problems.append(f"{key} {problem}")
    merged = {**(current or {}), **body}
    for key in REQUIRED[resource]:
        if current is not None and key not in body:
            continue  # an update leaves it as it is
        value = body.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(f"{key} should not be empty")
    if resource == "opportunities" and not merged.get("company") and not merged.get("member"):
        problems.append("company or member is required: an opportunity belongs to a "
                        "company or a member")
    if problems:
        raise ApiError(400, "; ".join(dict.fromkeys(problems)))


def apply_body(state: State, resource: str, body: Mapping[str, Any],
               current: Mapping[str, Any] | None) -> dict:
    """The record after the write: top-level fields replaced, ``properties`` merged, dates
    canonical, an opportunity's probability following its new status unless given."""
    rec: dict[str, Any] = dict(current) if current is not None else {"properties": {}}
    for key, value in body.items():
        if key == "properties":
            props = dict(rec.get("properties") or {})
            for name, v in value.items():
                if v is None:
                    props.pop(name, None)
                else:
                    props[name] = v
            rec["properties"] = props
        elif key in DATE_VALUED and isinstance(value, str):
            rec[key] = fmt_ts(parse_ts(value))
        else:
            rec[key] = value
    if resource == "opportunities" and "status" in body and "probability" not in body:
        status = state.collections["opportunity-statuses"].by_id.get(body["status"]) or {}
        rec["probability"] = status.get("probability")
    return rec
