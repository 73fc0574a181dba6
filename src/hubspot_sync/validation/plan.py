"""The check plan: which expectations a mapping implies, and the reason each one gives.

Pure Python (no GX, no pandas): :func:`plan_checks` derives the suite from the mapping's
properties (``required``, ``expect``, ``min``/``max``, ``max_length``), HubSpot's property
definitions (type, enumeration options, ``hasUniqueValue``) and the mapping's extra
``expectations``. See docs/validation.md for the rules.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubspot_sync.transforms import RULE_STRUCTURED, RULE_VALUE_MAP

if TYPE_CHECKING:  # pragma: no cover
    from hubspot_sync.mapping import EntityMapping, PropertySpec

RULE_REQUIRED = "required"
RULE_EMAIL = "email"
RULE_DOMAIN = "domain"
RULE_URL = "url"
RULE_NUMBER = "number"
RULE_RANGE = "range"
RULE_DATE = "date"
RULE_DATE_RANGE = "date_range"
RULE_ENUM = "enum"
RULE_LENGTH = "length"
RULE_UNIQUE = "unique"
# value_map and structured_value are found while mapping (hubspot_sync.transforms).
RULES = (RULE_REQUIRED, RULE_EMAIL, RULE_DOMAIN, RULE_URL, RULE_NUMBER, RULE_RANGE, RULE_DATE,
         RULE_DATE_RANGE, RULE_ENUM, RULE_LENGTH, RULE_UNIQUE, RULE_VALUE_MAP, RULE_STRUCTURED)

HUBSPOT_MAX_LENGTH = 65_536
DATE_MIN = "1900-01-01"
DATE_MAX = "2100-12-31"
_REASON_VALUE_CHARS = 80  # a reason quotes at most this much of a value

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
# \Z rather than $: "$" also matches before a trailing newline, which HubSpot would refuse.
PATTERNS: dict[str, str] = {
    RULE_EMAIL: rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@(?:{_LABEL}\.)+{_TLD}\Z",
    RULE_DOMAIN: rf"^(?:{_LABEL}\.)+{_TLD}\Z",
    RULE_URL: rf"^(?:https?://)?(?:{_LABEL}\.)+{_TLD}(?::\d{{1,5}})?(?:[/?#]\S*)?\Z",
    "number": r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z",
    "date": r"^\d{4}-\d{2}-\d{2}\Z",
    "datetime": (r"^\d{4}-\d{2}-\d{2}"
                 r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\Z"),
}
_EXPECT_WORDS = {RULE_EMAIL: "a valid email address", RULE_DOMAIN: "a valid domain name",
                 RULE_URL: "a valid URL"}
_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal",
             "products": "product", "line_items": "line item"}
# Properties HubSpot itself keeps unique whatever their definition says: a second contact
# with an email is refused (409 CONFLICT). Companies are NOT unique by domain: HubSpot
# creates a second company with the same domain, so a shared domain is no reject.
HUBSPOT_UNIQUE = {"contacts": frozenset({"email"})}
# Compared case-insensitively, as HubSpot matches them; other unique values exactly.
_CASE_INSENSITIVE = frozenset({"email"})


# ---------------------------------------------------------------------------------------
# The plan: which expectations the mapping implies (pure Python, no GX, no pandas)
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One expectation of the generated suite.

    ``column`` is the column of the working frame GX looks at (a property, ``id_value`` or
    a helper such as ``__number__price``); ``property`` is the HubSpot property the reject
    names; ``reason(value)`` turns the value sent into a sentence.
    """

    rule: str
    property: str | None
    expectation: str  # GX class name, e.g. ExpectColumnValuesToMatchRegex
    kwargs: dict[str, Any]
    # Called with the value sent; built from lambdas with bound defaults, hence ``...``.
    reason: Callable[..., str] = field(compare=False, repr=False)
    value_column: str | None = None  # column whose original value is reported (default: property)

    @builtins.property  # the field ``property`` shadows the builtin in this class body
    def column(self) -> str | None:
        return self.kwargs.get("column")


def _q(value: str) -> str:
    """A value quoted for a reason, shortened when long."""
    text = value if len(value) <= _REASON_VALUE_CHARS else value[:_REASON_VALUE_CHARS - 1] + "…"
    return f"'{text}'"


def _type_of(prop: PropertySpec, definition: dict[str, Any] | None) -> str:
    if definition and definition.get("type"):
        return str(definition["type"])
    return prop.type or "string"


def _options_of(prop: PropertySpec, definition: dict[str, Any] | None, ptype: str) -> list[str]:
    if definition is not None and definition.get("options") is not None:
        return [str(o.get("value")) for o in definition["options"] if o.get("value") is not None]
    if prop.options is not None:
        return list(prop.options)
    return ["true", "false"] if ptype == "bool" else []


def list_options(options: list[str], limit: int = 8) -> str:
    if not options:
        return "no options defined"
    shown = ", ".join(options[:limit])
    return shown + (f", … ({len(options)} in all)" if len(options) > limit else "")


def _fmt_number(number: float) -> str:
    return f"{number:g}" if abs(number) < 1e15 else str(number)


def plan_checks(mapping: EntityMapping, hubspot_properties: dict[str, dict]) -> list[Check]:
    """The checks the mapping implies, in a stable order (see docs/validation.md)."""
    checks: list[Check] = []
    id_prop = mapping.hubspot.id_property
    checks.append(Check(RULE_REQUIRED, id_prop, "ExpectColumnValuesToNotBeNull",
                        {"column": "id_value"},
                        lambda v, p=id_prop: f"{p} is empty; the sync cannot address the record",
                        value_column="id_value"))
    for prop in mapping.properties:
        name = prop.to
        definition = hubspot_properties.get(name)
        ptype = _type_of(prop, definition)
        if prop.required:
            checks.append(Check(RULE_REQUIRED, name, "ExpectColumnValuesToNotBeNull",
                                {"column": name},
                                lambda v, n=name: f"{n} is required but empty"))
        if prop.expect:
            words = _EXPECT_WORDS[prop.expect]
            checks.append(Check(prop.expect, name, "ExpectColumnValuesToMatchRegex",
                                {"column": name, "regex": PATTERNS[prop.expect]},
                                lambda v, n=name, w=words: f"{n} {_q(v)} is not {w}"))
        if ptype == "number" or prop.min is not None or prop.max is not None:
            checks.append(Check(RULE_NUMBER, name, "ExpectColumnValuesToMatchRegex",
                                {"column": name, "regex": PATTERNS["number"]},
                                lambda v, n=name: f"{n} {_q(v)} is not a number"))
            if prop.min is not None or prop.max is not None:
                checks.append(Check(RULE_RANGE, name, "ExpectColumnValuesToBeBetween",
                                    {"column": f"__number__{name}", "min_value": prop.min,
                                     "max_value": prop.max},
                                    _range_reason(name, prop.min, prop.max)))
        if ptype in ("date", "datetime"):
            if ptype == "date":
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToMatchRegex",
                                    {"column": name, "regex": PATTERNS["date"]},
                                    lambda v, n=name: f"{n} {_q(v)} is not a date in the form "
                                                      "YYYY-MM-DD"))
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToMatchStrftimeFormat",
                                    {"column": name, "strftime_format": "%Y-%m-%d"},
                                    lambda v, n=name: f"{n} {_q(v)} is not a real calendar date"))
            else:
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToMatchRegex",
                                    {"column": name, "regex": PATTERNS["datetime"]},
                                    lambda v, n=name: f"{n} {_q(v)} is not an ISO-8601 date-time "
                                                      "(YYYY-MM-DDThh:mm:ssZ)"))
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToBeDateutilParseable",
                                    {"column": name},
                                    lambda v, n=name: f"{n} {_q(v)} is not a real date-time"))
            checks.append(Check(RULE_DATE_RANGE, name, "ExpectColumnValuesToBeBetween",
                                {"column": f"__date__{name}",
                                 "min_value": int(DATE_MIN.replace("-", "")),
                                 "max_value": int(DATE_MAX.replace("-", ""))},
                                lambda v, n=name: f"{n} {_q(v)} is outside the accepted range "
                                                  f"{DATE_MIN} .. {DATE_MAX}"))
        if ptype in ("enumeration", "bool"):
            options = _options_of(prop, definition, ptype)
            listed = list_options(options)
            if definition is not None and definition.get("fieldType") == "checkbox":
                # Multiple checkboxes: ";"-separated option values.
                alt = "|".join(re.escape(o) for o in options) or "(?!)"
                checks.append(Check(RULE_ENUM, name, "ExpectColumnValuesToMatchRegex",
                                    {"column": name, "regex": rf"^(?:{alt})(?:;(?:{alt}))*\Z"},
                                    _multi_enum_reason(name, options, listed)))
            else:
                checks.append(Check(RULE_ENUM, name, "ExpectColumnValuesToBeInSet",
                                    {"column": name, "value_set": options},
                                    lambda v, n=name, o=listed: f"{n} {_q(v)} is not an option of "
                                                                f"HubSpot's {n} ({o})"))
        limit = min(HUBSPOT_MAX_LENGTH, prop.max_length or HUBSPOT_MAX_LENGTH)
        by_mapping = prop.max_length is not None and prop.max_length < HUBSPOT_MAX_LENGTH
        whose = "the mapping" if by_mapping else "HubSpot"
        checks.append(Check(RULE_LENGTH, name, "ExpectColumnValueLengthsToBeBetween",
                            {"column": name, "max_value": limit},
                            lambda v, n=name, m=limit, w=whose:
                            f"{n} is {len(v)} characters long; {w} allows at most {m}"))
    for key, column, helper, why in _unique_keys(mapping, hubspot_properties):
        # The reason is completed with the record that keeps the value (see unique_rejects).
        checks.append(Check(RULE_UNIQUE, key, "ExpectColumnValuesToBeUnique",
                            {"column": helper}, lambda v, w=why: w, value_column=column))
    for spec in mapping.expectations:
        kwargs = dict(spec.kwargs)
        if spec.column is not None:
            kwargs["column"] = spec.column
        checks.append(Check(spec.expectation, spec.column, _class_name(spec.expectation), kwargs,
                            _custom_reason(spec.expectation, spec.column, spec.kwargs, spec.reason),
                            value_column=spec.column))
    return checks


def _unique_keys(mapping: EntityMapping, hubspot_properties: dict[str, dict]
                 ) -> list[tuple[str, str, str, str]]:
    """(property, value column, helper column, why) of each value HubSpot refuses twice: the
    id property (unique-valued, and two upsert inputs for one record are refused), the
    properties HubSpot keeps unique itself (contacts' email) and any mapped property whose
    definition has ``hasUniqueValue``. Match keys as such (a company's domain) are not."""
    obj = mapping.hubspot.object
    noun = _SINGULAR.get(obj, obj)
    id_prop = mapping.hubspot.id_property
    keys = [(id_prop, "id_value", "__key__id_value",
             f"{id_prop} is HubSpot's unique id property: one {noun} per value")]
    for prop in mapping.properties:
        name = prop.to
        if name in HUBSPOT_UNIQUE.get(obj, ()):
            why = f"HubSpot allows one {noun} per {name}"
        elif (hubspot_properties.get(name) or {}).get("hasUniqueValue"):
            why = f"{name} is a unique-valued property in HubSpot: one {noun} per value"
        else:
            continue
        kind = "casefold" if name in _CASE_INSENSITIVE else "key"
        keys.append((name, name, f"__{kind}__{name}", why))
    return keys


def _range_reason(name: str, low: float | None, high: float | None) -> Callable[[str], str]:
    def reason(value: str) -> str:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if low is not None and number < low:
            return f"{name} {value} is below the minimum {_fmt_number(low)}"
        if high is not None and number > high:
            return f"{name} {value} is above the maximum {_fmt_number(high)}"
        bounds = " .. ".join(_fmt_number(b) if b is not None else "" for b in (low, high))
        return f"{name} {value} is outside the range {bounds}"
    return reason


def _multi_enum_reason(name: str, options: list[str], listed: str) -> Callable[[str], str]:
    def reason(value: str) -> str:
        bad = [part for part in value.split(";") if part not in options]
        return (f"{name} {_q(value)} has {', '.join(_q(b) for b in bad) or 'an empty part'}, "
                f"not an option of HubSpot's {name} ({listed})")
    return reason


def _custom_reason(expectation: str, column: str | None, kwargs: dict[str, Any],
                   template: str | None) -> Callable[[str], str]:
    def reason(value: str) -> str:
        if template:
            try:
                return template.format(value=value, property=column, column=column, **kwargs)
            except (KeyError, IndexError, ValueError, TypeError):
                return f"{template} (value {_q(value)})"
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return f"{column or 'record'} {_q(value)} fails {expectation}({args})"
    return reason


def _class_name(snake: str) -> str:
    """``expect_column_values_to_match_regex`` -> ``ExpectColumnValuesToMatchRegex``."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))

