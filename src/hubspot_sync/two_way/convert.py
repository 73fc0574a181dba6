"""HubSpot values back to OfficeRnD field values: the inverse of a property's mapping.

The forward mapping is ``from`` path -> transforms -> value map -> HubSpot value; the inverse
runs backwards: the value map's inverse (a HubSpot deal stage -> the OfficeRnD status
description), then each transform's inverse in reverse order (numbers -> int / float, dates ->
midnight UTC ``YYYY-MM-DDT00:00:00.000Z``, ``prefix`` stripped, ``P6M`` -> 6; the normalising
transforms such as ``trim`` leave the value as it is), then the ``from`` path decides where it
goes in the OfficeRnD body:

- ``phone`` -> ``{"phone": ...}``;
- ``address.street`` -> ``{"address": {...the record's current address, street replaced}}``
  (OfficeRnD replaces a nested object whole, so the current one is merged);
- ``status_record.description`` through the lookup ``status_record`` (key ``status``) ->
  ``{"status": <id of the opportunity status whose description is the value>}``.

A value that cannot be converted raises :class:`ConversionError` with a reason a person
understands; the writer rejects that record with it. Which properties may flow back at all is
checked when the mapping loads (:mod:`hubspot_sync.two_way.spec`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from hubspot_sync.transforms import get_path, parse_datetime
from hubspot_sync.values import is_blank

# Transforms whose inverse is the value itself (they only normalise text).
_IDENTITY = frozenset({"trim", "clean_text", "blank_to_none", "lower", "upper", "email"})


class ConversionError(ValueError):
    """A HubSpot value that cannot become an OfficeRnD field value, and why."""

    def __init__(self, property: str, value: Any, reason: str) -> None:
        super().__init__(f"{property}: {reason}")
        self.property = property
        self.value = value
        self.reason = reason


def _number(prop: Any, value: str) -> int | float:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConversionError(prop.to, value, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ConversionError(prop.to, value, f"{value!r} is not a finite number")
    return int(number) if number == number.to_integral_value() else float(number)


def _date(prop: Any, value: str, with_time: bool) -> str:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ConversionError(prop.to, value, f"{value!r} is not a date")
    parsed = parsed.astimezone(UTC)
    if not with_time:  # a HubSpot date is midnight UTC of its day
        parsed = parsed.replace(hour=0, minute=0, second=0, microsecond=0)
    return parsed.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bool(prop: Any, value: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConversionError(prop.to, value, f"{value!r} is not true or false")


def _undo_step(prop: Any, step: Any, value: Any) -> Any:
    name, arg = (step, None) if isinstance(step, str) else next(iter(step.items()))
    if value is None or name in _IDENTITY:
        return value
    if name in ("number", "round", "integer"):
        return _number(prop, value)
    if name in ("date", "datetime"):
        return _date(prop, value, with_time=name == "datetime")
    if name == "prefix":
        text, head = str(value), str(arg or "")
        if not text.startswith(head):
            raise ConversionError(prop.to, value, f"{value!r} does not start with the prefix "
                                                  f"{head!r} the mapping adds")
        return text[len(head):] or None
    if name == "iso_months":
        text = str(value).strip().upper()
        if text.startswith("P") and text.endswith("M") and text[1:-1].isdigit():
            return int(text[1:-1])
        raise ConversionError(prop.to, value, f"{value!r} is not a period of months (P6M)")
    raise ConversionError(prop.to, value, f"the transform {name!r} has no inverse")


_TYPED_STEPS = frozenset({"number", "round", "integer", "date", "datetime", "iso_months"})


def inverse_value(prop: Any, value: str | None, hubspot_type: str | None = None) -> Any:
    """A property's HubSpot value (normalised HubSpot form) as the OfficeRnD value its
    ``from`` field holds; blank -> None. ``hubspot_type`` (the property's definition) types a
    value no transform types: number -> int / float, date -> midnight UTC, bool -> bool."""
    if is_blank(value):
        return None
    result: Any = str(value).strip()
    if prop.value_map:
        inverse = {str(v).strip(): k for k, v in prop.value_map.items() if not is_blank(v)}
        if result in inverse:
            result = inverse[result]
        elif prop.on_unmapped != "keep":
            raise ConversionError(prop.to, value, f"{result!r} is not in the value map of "
                                  f"{prop.to} (known: {', '.join(sorted(inverse))})")
    steps = list(prop.steps)
    for step in reversed(steps):
        result = _undo_step(prop, step, result)
    typed = any((s if isinstance(s, str) else next(iter(s), "")) in _TYPED_STEPS
                for s in steps)
    if not typed and not prop.value_map and result is not None:
        if hubspot_type == "number":
            result = _number(prop, result)
        elif hubspot_type in ("date", "datetime"):
            result = _date(prop, result, with_time=hubspot_type == "datetime")
        elif hubspot_type == "bool":
            result = _bool(prop, result)
    return result


def _records(candidates: Any) -> Iterable[tuple[Any, Mapping[str, Any]]]:
    """(id, record) of a lookup's candidates: a mapping id -> record, or records with _id."""
    if isinstance(candidates, Mapping):
        return [(key, rec) for key, rec in candidates.items() if isinstance(rec, Mapping)]
    return [(rec.get("_id", rec.get("id")), rec) for rec in candidates or []
            if isinstance(rec, Mapping)]


def _same(a: Any, b: Any) -> bool:
    return (None if is_blank(a) else str(a).strip()) == (None if is_blank(b) else str(b).strip())


def _lookup_id(prop: Any, lookup: Any, rest: str, value: Any, candidates: Any) -> Any:
    if value is None:
        return None
    found = [rid for rid, rec in _records(candidates) if _same(get_path(rec, rest), value)]
    if not found:
        raise ConversionError(prop.to, value, f"no OfficeRnD {lookup.resource} record has "
                                              f"{rest} {value!r}")
    if len(set(map(str, found))) > 1:
        raise ConversionError(prop.to, value, f"{len(found)} OfficeRnD {lookup.resource} "
                                              f"records have {rest} {value!r}; which is meant is "
                                              "ambiguous")
    return found[0]


def _set_nested(payload: dict[str, Any], current: Mapping[str, Any], path: list[str],
                value: Any, prop: Any) -> None:
    top = path[0]
    if top not in payload:
        base = current.get(top)
        if base is not None and not isinstance(base, Mapping):
            raise ConversionError(prop.to, value, f"the OfficeRnD field {top!r} is not an "
                                                  "object; cannot set "
                                                  f"{'.'.join(path)}")
        payload[top] = copy.deepcopy(dict(base or {}))
    node = payload[top]
    for part in path[1:-1]:
        child = node.get(part)
        if child is not None and not isinstance(child, Mapping):
            raise ConversionError(prop.to, value, f"{part!r} in {'.'.join(path)} is not an "
                                                  "object")
        node[part] = dict(child or {})
        node = node[part]
    node[path[-1]] = value


def to_officernd_payload(mapping: Any, changes: Mapping[str, str | None],
                         current: Mapping[str, Any], lookups: Mapping[str, Any],
                         types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The OfficeRnD PUT / POST body that sets these HubSpot values.

    ``changes``: HubSpot property -> its new value (HubSpot form), reverse properties only.
    ``current``: the OfficeRnD record as it is (nested objects are merged into; ``{}`` for a
    create). ``lookups``: lookup name -> its resource's records (a list of records with
    ``_id`` or a mapping id -> record), to turn a looked-up value into that record's id.
    ``types``: HubSpot property -> type, for values no transform types.
    Raises :class:`ConversionError` for the first value that cannot be converted.
    """
    by_name = {p.to: p for p in mapping.properties}
    payload: dict[str, Any] = {}
    for name, hubspot_value in changes.items():
        prop = by_name.get(name)
        if prop is None or prop.from_ is None:
            raise ConversionError(name, hubspot_value, f"{name!r} is not mapped from an "
                                                       "OfficeRnD field")
        value = inverse_value(prop, hubspot_value, (types or {}).get(name))
        head, _, rest = prop.from_.partition(".")
        lookup = mapping.lookups.get(head) if rest else None
        if lookup is not None:
            payload[lookup.key] = _lookup_id(prop, lookup, rest, value, lookups.get(head))
        elif rest:
            _set_nested(payload, current, prop.from_.split("."), value, prop)
        else:
            payload[head] = value
    return payload
