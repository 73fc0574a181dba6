"""Turn one source record into HubSpot property values, as a mapping file says.

Transforms never raise on bad data: a value they cannot convert passes through
unchanged, so the validate step can hold the record back with a reason a person
understands instead of the run crashing. Pure Python (no pandas): the mapping loader
imports this module at DAG parse time.

Every HubSpot property this module produces is a scalar (text, number, bool) or missing:

- **Control characters are removed** from every text value by :func:`clean_text`, the last
  step of :func:`map_property` (and a transform of its own, ``clean_text``): C0 controls
  except tab, newline and carriage return (e.g. NUL, BEL, ESC), DEL, and the C1 controls
  U+0080..U+009F. They are invisible, HubSpot keeps them, and PostgreSQL refuses NUL.
- **An object or a list is never turned into text by accident** (no Python repr such as
  ``{'first': 'A'}``): every transform passes it through unchanged, except ``join``, which
  makes a list of scalars ``;``-joined text; one still structured after the steps is a
  ``structured_value`` problem that validation turns into a reject with the reason
  ("address is an object ({"city": "Oslo"}); map one of its fields, e.g. address.city").
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from hubspot_sync.values import as_utc, is_blank

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.mapping import PropertySpec

MISSING = None

# Rules of the problems found while mapping (validation stores them with each reject).
RULE_VALUE_MAP = "value_map"
RULE_STRUCTURED = "structured_value"

# C0 controls but tab, newline and CR; DEL; C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_STRUCTURED = (Mapping, list, tuple, set, frozenset)


def is_structured(value: Any) -> bool:
    """An object or a list: a value no scalar HubSpot property can hold as it is."""
    return isinstance(value, _STRUCTURED)


def as_json(value: Any) -> str:
    """A structured value as compact JSON text, for reasons and rejects (never a repr)."""
    if isinstance(value, set | frozenset):
        value = sorted(value, key=str)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def clean_text(value: Any, _: Any = None) -> Any:
    """Text without control characters (C0 but tab/newline/CR, DEL, C1); other values
    unchanged. Applied to every text value :func:`map_property` produces."""
    return _CONTROL.sub("", value) if isinstance(value, str) else value


def trim(value: Any, _: Any = None) -> Any:
    return value.strip() if isinstance(value, str) else value


def lower(value: Any, _: Any = None) -> Any:
    return value.lower() if isinstance(value, str) else value


def upper(value: Any, _: Any = None) -> Any:
    return value.upper() if isinstance(value, str) else value


def email(value: Any, _: Any = None) -> Any:
    """Trimmed, lower-cased; blank becomes missing (HubSpot matches emails exactly)."""
    if is_blank(value):
        return MISSING
    return value.strip().lower() if isinstance(value, str) else value


def _name_parts(value: Any) -> list[str]:
    return value.split() if isinstance(value, str) else []


def first_name(value: Any, _: Any = None) -> Any:
    """Everything but the last word; a single-word name is the first name."""
    if is_structured(value):
        return value
    parts = _name_parts(value)
    if not parts:
        return MISSING
    return " ".join(parts[:-1]) if len(parts) > 1 else parts[0]


def last_name(value: Any, _: Any = None) -> Any:
    """The last word; a single-word name has no last name."""
    if is_structured(value):
        return value
    parts = _name_parts(value)
    return parts[-1] if len(parts) > 1 else MISSING


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text, epoch milliseconds, date or datetime; None
    for anything else (:func:`hubspot_sync.values.as_utc`, which raises, plus epoch ms)."""
    if isinstance(value, bool) or is_blank(value):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return as_utc(value)
    except (ValueError, TypeError):
        return None


def to_date(value: Any, _: Any = None) -> Any:
    """A HubSpot date: ``YYYY-MM-DD`` (midnight UTC of the UTC calendar day)."""
    if is_blank(value):
        return MISSING
    parsed = parse_datetime(value)
    return parsed.astimezone(UTC).date().isoformat() if parsed else value


def to_datetime(value: Any, _: Any = None) -> Any:
    """A HubSpot datetime: ISO-8601 UTC with milliseconds."""
    if is_blank(value):
        return MISSING
    parsed = parse_datetime(value)
    if not parsed:
        return value
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_number(value: Any) -> str | None:
    """Numbers as HubSpot returns them: no exponent, no trailing zeros ("12.5", "100")."""
    if is_blank(value) or isinstance(value, bool):
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
    if is_blank(value):
        return MISSING
    canonical = canonical_number(value)
    return canonical if canonical is not None else value


def round_to(value: Any, places: Any = 2) -> Any:
    if is_blank(value):
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
    if is_blank(value) or not isinstance(value, str):
        return MISSING if is_blank(value) else value
    text = value.strip().lower()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.removeprefix("www.") or value


def default(value: Any, fallback: Any = None) -> Any:
    return fallback if is_blank(value) else value


def prefix(value: Any, text: Any = "") -> Any:
    if is_structured(value):
        return value
    return MISSING if is_blank(value) else f"{text}{value}"


def iso_months(value: Any, _: Any = None) -> Any:
    """A count of months as an ISO-8601 period (6 -> ``P6M``), HubSpot's recurring billing
    period."""
    canonical = canonical_number(value)
    if canonical is None or "." in canonical or int(canonical) <= 0:
        return MISSING if is_blank(value) else value
    return f"P{canonical}M"


def join(value: Any, separator: Any = ";") -> Any:
    """A list of scalars as HubSpot's ``;``-joined multi-value text (blank items dropped).
    A list holding objects or lists passes through unchanged and is rejected as a
    ``structured_value``: joining would write their reprs."""
    if isinstance(value, list | tuple) and not any(is_structured(v) for v in value):
        return separator.join(str(v) for v in value if not is_blank(v)) or MISSING
    return value


def blank_to_none(value: Any, _: Any = None) -> Any:
    return MISSING if is_blank(value) else value


TRANSFORMS: dict[str, Callable[[Any, Any], Any]] = {
    "trim": trim, "lower": lower, "upper": upper, "email": email,
    "first_name": first_name, "last_name": last_name,
    "date": to_date, "datetime": to_datetime, "number": number, "round": round_to,
    "integer": integer, "domain": domain, "default": default, "prefix": prefix,
    "iso_months": iso_months, "join": join, "blank_to_none": blank_to_none,
    "clean_text": clean_text,
}


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """``address.city`` -> record["address"]["city"]; missing anywhere -> None."""
    current: Any = record
    for part in path.split("."):
        if type(current) is dict or isinstance(current, Mapping):  # dict first: the fast case
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
        if is_structured(value):  # JSON, never a Python repr (map_property rejects these)
            value = as_json(value)
        return ("" if value is None else value), field_name


_FORMATTER = _PathFormatter()


def template_fields(template: str) -> list[str]:
    """The field paths a template reads: ``{company.name} {number}`` -> company.name, number."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill ``{company.name} {number}`` from a record; blank result -> None. A field holding
    an object or a list is rendered as JSON, never as a Python repr."""
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


class Problem(NamedTuple):
    """A reason found while mapping to hold the record back; validation rejects it."""

    property: str
    value: Any
    reason: str
    rule: str = RULE_VALUE_MAP


@dataclass
class MappedRecord:
    """One source record as HubSpot property values, or the reason it is skipped."""

    source_id: str
    properties: dict[str, Any]
    skip_reason: str | None = None
    problems: list[Problem] = field(default_factory=list)


def _structured_reason(origin: str, value: Any) -> str:
    """What a person reads when an object or a list meets a scalar property."""
    text = as_json(value)
    if len(text) > 60:
        text = text[:59] + "…"
    if isinstance(value, Mapping):
        example = next((f", e.g. {origin}.{key}" for key in value), "")
        return f"{origin} is an object ({text}); map one of its fields{example}"
    return (f"{origin} is a list ({text}); add the transform {{join: \";\"}} to send it as "
            f"text, or map one item, e.g. {origin}.0")


def map_property(prop: PropertySpec, context: Mapping[str, Any]
                 ) -> tuple[Any, str | None, Problem | None]:
    """One property's HubSpot value, a skip reason, and a problem (a reason to reject the record).

    A value map with no entry for the value follows ``on_unmapped``: ``skip`` the record
    (counted as skipped with the reason), ``reject`` it (a ``value_map`` problem), leave the
    property ``empty``, or ``keep`` the value as it is. An object or a list still
    structured after the transforms (a template field included) is a ``structured_value``
    problem; its value is then the JSON text, for the reject to show. Text is trimmed and
    cleaned of control characters (:func:`clean_text`); blank text becomes missing.
    """
    if prop.when and any(get_path(context, key) not in allowed
                         for key, allowed in prop.when.items()):
        return MISSING, None, None
    if prop.template is not None:
        for name in template_fields(prop.template):
            inner = get_path(context, name)
            if is_structured(inner):
                return (as_json(inner), None,
                        Problem(prop.to, as_json(inner), _structured_reason(name, inner),
                                RULE_STRUCTURED))
        value = render_template(prop.template, context)
    elif prop.from_ is not None:
        value = get_path(context, prop.from_)
    else:
        value = prop.value
    value = apply_steps(value, prop.steps)
    if is_structured(value):
        text = as_json(value)
        origin = prop.from_ if prop.from_ is not None else prop.to
        return text, None, Problem(prop.to, text, _structured_reason(origin, value),
                                   RULE_STRUCTURED)
    if prop.value_map is not None and not is_blank(value):
        key = str(value)
        if key in prop.value_map:
            value = prop.value_map[key]
        elif prop.on_unmapped == "skip":
            return value, f"{prop.to}: {key!r} has no entry in the value map", None
        elif prop.on_unmapped == "empty":
            value = MISSING
        elif prop.on_unmapped == "reject":
            return value, None, Problem(prop.to, value,
                                        f"{key!r} has no entry in the value map of {prop.to}")
    if isinstance(value, str):
        value = clean_text(value).strip() or MISSING
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
            mapped.problems.append(problem)
    return mapped
