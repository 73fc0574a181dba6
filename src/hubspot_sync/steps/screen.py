"""What ``extract_source`` checks before it stores anything: records the warehouse or HubSpot
cannot take as they are, and mapped source fields that no record has.

**Malformed records** are rejected with a reason (recorded through
:mod:`hubspot_sync.steps.rejects`) and left out of the snapshot; the run goes on with the
others, so one bad record never crashes it:

- ``source_id``: the id is missing (null, absent or blank), is not an id (an object, a
  list), holds control characters or invalid text, or is longer than the warehouse's key
  column (``KEY_LENGTH``). Such a record has no usable id to name it by, so its reject is
  keyed ``~bad-id:<digest of its content>``: the same record is the same reject run after
  run, and two such records are never collapsed into one. A child (a line item) whose id
  template lacks a field (``{_id}:{item.id}`` with no ``item.id``) is rejected alike.
- ``changed_at``: the change timestamp is present but is no date-time (``"yesterday"``).
- ``text_encoding``: a string that is not valid Unicode (a lone surrogate such as
  ``\\ud800``) in the record or in a mapped value (from a lookup, say); neither the
  warehouse nor HubSpot can store it.
- ``child_list``: the list a child mapping explodes (a contract's ``plans``) is not a list;
  the record's children are left as they are.

NUL and other control characters in texts are no reason to reject: mapped values are
cleaned of them (:func:`hubspot_sync.transforms.clean_text`) and the raw copy is stored as
JSON, where they are escapes.

**Missing source fields** (:func:`missing_fields`): a field a property reads (``from``, a
template's fields, ``when`` keys) that no extracted record has would turn into an empty
value for every record, and ``overwrite`` would clear it in HubSpot. OfficeRnD sends empty
values as ``null`` (the key is there), so a record *lacks* a field only when a key on its
path is absent; a ``null`` object on the way (a member without an address) tells nothing.
The run fails (:class:`MissingSourceField`) when no record has the field and at least the
mapping's ``missing_field_min_records`` (default 20) records lack it: a small hourly batch
never fails on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hubspot_sync.mapping import PARENT_LINK, EntityMapping
from hubspot_sync.records import Reject
from hubspot_sync.steps.context import StopRun, instant
from hubspot_sync.transforms import get_path, is_structured, template_fields
from hubspot_sync.values import is_blank, is_missing
from hubspot_sync.warehouse.schema import KEY_LENGTH

RULE_SOURCE_ID = "source_id"
RULE_CHANGED_AT = "changed_at"
RULE_ENCODING = "text_encoding"
RULE_CHILD_LIST = "child_list"
EXTRACT_RULES = (RULE_SOURCE_ID, RULE_CHANGED_AT, RULE_ENCODING, RULE_CHILD_LIST)
BAD_ID_PREFIX = "~bad-id:"

_VALUE_CHARS = 120  # a reject quotes at most this much of a value
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # controls and lone surrogates


class MissingSourceField(StopRun):
    """Mapped source fields no extracted record has: writing would clear them in HubSpot."""


def readable(value: Any, limit: int = _VALUE_CHARS) -> str:
    """A value as text a person can read and every warehouse can store: control
    characters and lone surrogates as ``\\uXXXX`` escapes, cut at ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def digest_key(record: Any) -> str:
    """The reject key of a record without a usable id: a digest of its content."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=True, default=str)
    return BAD_ID_PREFIX + hashlib.sha1(text.encode("ascii")).hexdigest()[:16]


def reject(source_id: str, rule: str, prop: str | None, value: Any, reason: str) -> Reject:
    return {"source_id": source_id, "rule": rule, "property": prop,
            "value": None if value is None else readable(value), "reason": reason,
            "source": "validation"}


def id_problem(value: Any, what: str) -> str | None:
    """Why ``value`` cannot be a source id (None: it can); ``what`` names the field."""
    if is_blank(value):
        return (f"the record has no {what} (null, missing or blank): a record without an id "
                "can neither be synced nor told apart from others; give it an id at the source")
    if is_structured(value) or isinstance(value, bool):
        return f"{what} {readable(value)} is not an id"
    text = str(value)
    if _UNSAFE.search(text):
        return (f"{what} {readable(text)!r} holds control characters or invalid text, which the "
                "warehouse cannot store as an id")
    if len(text) > KEY_LENGTH:
        return (f"{what} is {len(text)} characters long ({readable(text, 40)!r}); the warehouse "
                f"keeps ids of at most {KEY_LENGTH} characters")
    return None


def bad_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first (field path, text) holding a lone surrogate (text that is not valid
    Unicode), keys included; None when there is none."""
    if isinstance(value, str):
        return (path, value) if _SURROGATE.search(value) else None
    if isinstance(value, Mapping):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return where, key
            found = bad_text(inner, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            found = bad_text(inner, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


def encoding_reason(path: str, text: str) -> str:
    return (f"{path} {readable(text, 60)!r} is not valid Unicode (a lone surrogate); neither "
            "the warehouse nor HubSpot can store it: fix the text at the source")


def has_bad_text(record: Any) -> tuple[str, str] | None:
    """:func:`bad_text`, after one fast scan of the record's JSON (most records are clean)."""
    if not _SURROGATE.search(json.dumps(record, ensure_ascii=False, default=str)):
        return None
    return bad_text(record)


@dataclass
class Screened:
    """The records that passed, as (source id, record), and the rejects of the others."""

    passed: list[tuple[str, dict]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def screen_records(records: Iterable[dict], mapping: EntityMapping) -> Screened:
    """Each extracted record checked for a usable id, a readable change timestamp, valid
    text and (for each child mapping) a list to explode."""
    spec = mapping.source
    out = Screened()
    for record in records:
        raw_id = record.get(spec.id)
        problem = id_problem(raw_id, spec.id)
        if problem:
            out.rejects.append(reject(digest_key(record), RULE_SOURCE_ID, spec.id, raw_id,
                                      problem))
            continue
        sid = str(raw_id)
        text = has_bad_text(record)
        if text:
            out.rejects.append(reject(sid, RULE_ENCODING, text[0], text[1],
                                      encoding_reason(*text)))
            continue
        if spec.changed_at:
            try:
                instant(record.get(spec.changed_at))
            except ValueError:
                value = record.get(spec.changed_at)
                out.rejects.append(reject(
                    sid, RULE_CHANGED_AT, spec.changed_at, value,
                    f"{spec.changed_at} {readable(value)!r} is not a date-time (ISO-8601 or "
                    "epoch milliseconds): the record's change cannot be placed in time"))
                continue
        not_list = next((c for c in mapping.children
                         if not isinstance(get_path(record, c.explode), list | type(None))), None)
        if not_list is not None:
            value = get_path(record, not_list.explode)
            out.rejects.append(reject(
                sid, RULE_CHILD_LIST, not_list.explode, value,
                f"{not_list.explode} is {type(value).__name__} {readable(value, 60)}, not a "
                f"list: its {not_list.name} cannot be read (those in HubSpot are left as they "
                "are)"))
            continue
        out.passed.append((sid, record))
    return out


def child_id_problem(template: str, context: Mapping[str, Any], rendered: str | None,
                     child: str) -> str | None:
    """Why a child's id rendered from ``template`` is unusable (None: it is usable): a
    template field with no value would make ids like ``c1:`` that several items share."""
    blank = [name for name in template_fields(template) if is_blank(get_path(context, name))]
    if blank:
        return (f"the {child} has no {', '.join(blank)}, which its id template {template!r} "
                "needs: it can neither be synced nor told apart from the others")
    return id_problem(rendered, "its id")


def unstorable_values(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                list[Reject]]:
    """Snapshot rows split into those every value of which can be stored and sent, and
    rejects of the others (a mapped value holding a lone surrogate, from a lookup say)."""
    kept: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for row in rows:
        found = next(((name, value) for name, value in row["properties"].items()
                      if isinstance(value, str) and _SURROGATE.search(value)), None)
        if found is None:
            kept.append(row)
        else:
            rejects.append(reject(row["source_id"], RULE_ENCODING, found[0], found[1],
                                  encoding_reason(*found)))
    return kept, rejects


# --------------------------------------------------------------------------- missing fields

@dataclass(frozen=True)
class FieldUse:
    """A source field a property reads: its path, where the mapping names it, the property."""

    path: str
    key: str
    to: str


def field_uses(mapping: EntityMapping) -> list[FieldUse]:
    """Every source field the mapping's properties read (``from``, template fields, ``when``)."""
    uses = []
    for i, prop in enumerate(mapping.properties):
        if prop.from_ is not None:
            uses.append(FieldUse(prop.from_, f"properties[{i}].from", prop.to))
        if prop.template is not None:
            uses += [FieldUse(name, f"properties[{i}].template", prop.to)
                     for name in template_fields(prop.template)]
        uses += [FieldUse(key, f"properties[{i}].when", prop.to) for key in prop.when or {}]
    return uses


def presence(context: Mapping[str, Any], path: str) -> bool | None:
    """True: the record has the field (any value, null included); False: it lacks it (a key
    absent from an object on the path, or a scalar where an object is needed); None: it
    cannot tell (a null object, or a list too short, on the path)."""
    current: Any = context
    for part in path.split("."):
        if is_missing(current):
            return None
        if isinstance(current, Mapping):
            if part not in current:
                return False
            current = current[part]
        elif isinstance(current, list | tuple) and part.isdigit():
            if int(part) >= len(current):
                return None
            current = current[int(part)]
        else:
            return False
    return True


def missing_fields(mapping: EntityMapping,
                   contexts: Sequence[Mapping[str, Any]]) -> list[tuple[FieldUse, int]]:
    """The fields no record has while at least ``missing_field_min_records`` records lack
    them, with the number of records lacking each."""
    counts: dict[str, tuple[bool, int]] = {}
    out = []
    for use in field_uses(mapping):
        if use.path not in counts:
            absent = 0
            found = False
            for context in contexts:
                state = presence(context, use.path)
                if state:
                    found = True
                    break
                absent += state is False
            counts[use.path] = (found, absent)
        found, absent = counts[use.path]
        if not found and absent >= mapping.missing_field_min_records:
            out.append((use, absent))
    return out


def mapping_file(mapping: EntityMapping) -> str:
    """Where a person fixes the mapping: ``members.yaml``, or ``contracts.yaml: children[...]``
    for a child mapping (its parent's file)."""
    parent = next((a.to for a in mapping.associations if a.via == PARENT_LINK), None)
    if parent is None:
        return f"{mapping.entity}.yaml"
    return f"{parent}.yaml: children[{mapping.entity.removeprefix(parent + '_')}]"


def check_fields(mapping: EntityMapping, contexts: Sequence[Mapping[str, Any]]) -> None:
    """Fail the run (MissingSourceField) on a mapped field no extracted record has."""
    missing = missing_fields(mapping, contexts)
    if not missing:
        return
    lines = [f"{mapping.entity}: a mapped source field is in none of the {len(contexts)} "
             "records extracted; each property reading it would become empty and, under "
             "ownership overwrite, clear HubSpot, so nothing of this run is written:"]
    lines += [f"  - {use.path!r} ({mapping_file(mapping)}: {use.key} -> {use.to}): absent "
              f"from {absent} records" for use, absent in missing]
    lines.append("Fix the field's name in the mapping (a typo?), or drop the property if the "
                 "source no longer sends the field. Records where an object on the path is "
                 "null do not count; the check applies from missing_field_min_records "
                 f"({mapping.missing_field_min_records}) records lacking the field on.")
    raise MissingSourceField("\n".join(lines))
