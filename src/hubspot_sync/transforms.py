"""Turn one source record into HubSpot property values, as a mapping file says.

Transforms never raise on bad data: a value they cannot convert passes through
unchanged, so the validate step can hold the record back with a reason a person
understands instead of the run crashing. Pure Python (no pandas): the mapping loader
imports this module at DAG parse time.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.mapping import PropertySpec

MISSING = None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def trim(value: Any, _: Any = None) -> Any:
    return value.strip() if isinstance(value, str) else value


def lower(value: Any, _: Any = None) -> Any:
    return value.lower() if isinstance(value, str) else value


def upper(value: Any, _: Any = None) -> Any:
    return value.upper() if isinstance(value, str) else value


def email(value: Any, _: Any = None) -> Any:
    """Trimmed, lower-cased; blank becomes missing (HubSpot matches emails exactly)."""
    if _is_blank(value):
        return MISSING
    return value.strip().lower() if isinstance(value, str) else value


def _name_parts(value: Any) -> list[str]:
    return value.split() if isinstance(value, str) else []


def first_name(value: Any, _: Any = None) -> Any:
    """Everything but the last word; a single-word name is the first name."""
    parts = _name_parts(value)
    if not parts:
        return MISSING
    return " ".join(parts[:-1]) if len(parts) > 1 else parts[0]


def last_name(value: Any, _: Any = None) -> Any:
    """The last word; a single-word name has no last name."""
    parts = _name_parts(value)
    return parts[-1] if len(parts) > 1 else MISSING


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text, epoch milliseconds, date or datetime; else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool) or _is_blank(value):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def to_date(value: Any, _: Any = None) -> Any:
    """A HubSpot date: ``YYYY-MM-DD`` (midnight UTC of the UTC calendar day)."""
    if _is_blank(value):
        return MISSING
    parsed = parse_datetime(value)
    return parsed.astimezone(UTC).date().isoformat() if parsed else value


def to_datetime(value: Any, _: Any = None) -> Any:
    """A HubSpot datetime: ISO-8601 UTC with milliseconds."""
    if _is_blank(value):
        return MISSING
    parsed = parse_datetime(value)
    if not parsed:
        return value
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_number(value: Any) -> str | None:
    """Numbers as HubSpot returns them: no exponent, no trailing zeros ("12.5", "100")."""
    if _is_blank(value) or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def number(value: Any, _: Any = None) -> Any:
    if _is_blank(value):
        return MISSING
    canonical = canonical_number(value)
    return canonical if canonical is not None else value


def round_to(value: Any, places: Any = 2) -> Any:
    if _is_blank(value):
        return MISSING
    canonical = canonical_number(value)
    if canonical is None:
        return value
    quantum = Decimal(1).scaleb(-int(places))
    return canonical_number(Decimal(canonical).quantize(quantum))


def integer(value: Any, _: Any = None) -> Any:
    return round_to(value, 0)


def domain(value: Any, _: Any = None) -> Any:
    """``https://www.Acme.com/about`` -> ``acme.com``."""
    if _is_blank(value) or not isinstance(value, str):
        return MISSING if _is_blank(value) else value
    text = value.strip().lower()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.removeprefix("www.") or value


def default(value: Any, fallback: Any = None) -> Any:
    return fallback if _is_blank(value) else value


def prefix(value: Any, text: Any = "") -> Any:
    return MISSING if _is_blank(value) else f"{text}{value}"


def iso_months(value: Any, _: Any = None) -> Any:
    """A count of months as an ISO-8601 period (6 -> ``P6M``), HubSpot's recurring billing period."""
    canonical = canonical_number(value)
    if canonical is None or "." in canonical or int(canonical) <= 0:
        return MISSING if _is_blank(value) else value
    return f"P{canonical}M"


def join(value: Any, separator: Any = ";") -> Any:
    """A list as HubSpot's ``;``-joined multi-value text."""
    if isinstance(value, list | tuple):
        return separator.join(str(v) for v in value if not _is_blank(v)) or MISSING
    return value


def blank_to_none(value: Any, _: Any = None) -> Any:
    return MISSING if _is_blank(value) else value


TRANSFORMS: dict[str, Callable[[Any, Any], Any]] = {
    "trim": trim, "lower": lower, "upper": upper, "email": email,
    "first_name": first_name, "last_name": last_name,
    "date": to_date, "datetime": to_datetime, "number": number, "round": round_to,
    "integer": integer, "domain": domain, "default": default, "prefix": prefix,
    "iso_months": iso_months, "join": join, "blank_to_none": blank_to_none,
}

_PATH_SPLIT = re.compile(r"\.")


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """``address.city`` -> record["address"]["city"]; missing anywhere -> None."""
    current: Any = record
    for part in _PATH_SPLIT.split(path):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list | tuple) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is None:
            return None
    return current


class _PathFormatter(string.Formatter):
    def get_field(self, field_name: str, args: Any, kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        value = get_path(kwargs, field_name)
        return ("" if value is None else value), field_name


_FORMATTER = _PathFormatter()


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill ``{company.name} {number}`` from a record; blank result -> None."""
    text = " ".join(_FORMATTER.vformat(template, (), context).split())
    return text or None


def apply_steps(value: Any, steps: list[str | dict[str, Any]]) -> Any:
    for step in steps:
        if isinstance(step, str):
            value = TRANSFORMS[step](value, None)
        else:
            name, arg = next(iter(step.items()))
            value = TRANSFORMS[name](value, arg)
    return value


@dataclass
class MappedRecord:
    """One source record as HubSpot property values, or the reason it is skipped."""

    source_id: str
    properties: dict[str, Any]
    skip_reason: str | None = None
    problems: list[tuple[str, Any, str]] = field(default_factory=list)  # (property, value, reason)


def map_property(prop: PropertySpec, context: Mapping[str, Any]) -> tuple[Any, str | None, str | None]:
    """One property's HubSpot value, a skip reason, and a problem (a reason to reject the record).

    A value map with no entry for the value follows ``on_unmapped``: ``skip`` the record
    (counted as skipped with the reason), ``reject`` it (held back by validation with the
    reason), leave the property ``empty``, or ``keep`` the value as it is.
    """
    if prop.when and any(get_path(context, key) not in allowed
                         for key, allowed in prop.when.items()):
        return MISSING, None, None
    if prop.from_ is not None:
        value = get_path(context, prop.from_)
    elif prop.template is not None:
        value = render_template(prop.template, context)
    else:
        value = prop.value
    value = apply_steps(value, prop.steps)
    if prop.value_map is not None and not _is_blank(value):
        key = str(value)
        if key in prop.value_map:
            value = prop.value_map[key]
        elif prop.on_unmapped == "skip":
            return value, f"{prop.to}: {key!r} has no entry in the value map", None
        elif prop.on_unmapped == "empty":
            value = MISSING
        elif prop.on_unmapped == "reject":
            return value, None, f"{key!r} has no entry in the value map of {prop.to}"
    if isinstance(value, str):
        value = value.strip() or MISSING
    return value, None, None


def map_record(source_id: str, context: Mapping[str, Any],
               properties: list[PropertySpec]) -> MappedRecord:
    """Every mapped property of one record; the first skip reason wins."""
    mapped = MappedRecord(source_id=source_id, properties={})
    for prop in properties:
        value, skip, problem = map_property(prop, context)
        mapped.properties[prop.to] = value
        if skip and mapped.skip_reason is None:
            mapped.skip_reason = skip
        if problem:
            mapped.problems.append((prop.to, value, problem))
    return mapped
