"""The delta rules (pandas): compare the source snapshot with HubSpot's side and classify
every record.

Both sides are normalised by HubSpot property type first (trimmed strings, canonical
numbers, dates as ``YYYY-MM-DD`` = midnight UTC, datetimes as ISO-8601 UTC with
milliseconds), so a value that merely looks different ("12.50" vs "12.5") is not a change.
Then each record is one of:

- ``create``: HubSpot has no record for it yet;
- ``update``: with the changed fields, after per-property ownership (``overwrite``,
  ``fill_if_empty``, ``never``);
- ``unchanged``;
- ``skipped``: filtered out, or a value map said skip, or the mode forbids the write;
- ``conflict``: a unique match key (a contact's email) finds a HubSpot record that already
  belongs to another source record; held back with the reason. A shared key (a company's
  domain) never makes one: ``extract_hubspot`` adopts a HubSpot record for one source
  record only and the others are created, their warning as the create's reason;
- ``orphan``: (full refresh only) a HubSpot record carrying the id property whose source
  record no longer exists; reported, never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from hubspot_sync.mapping import EntityMapping
from hubspot_sync.records import DELTA_ACTIONS, DELTA_COLUMNS
from hubspot_sync.transforms import canonical_number, to_date, to_datetime
from hubspot_sync.values import is_blank


def _norm_string(value: Any) -> str | None:
    return None if is_blank(value) else str(value).strip()


def _norm_number(value: Any) -> str | None:
    if is_blank(value):
        return None
    canonical = canonical_number(value)
    return canonical if canonical is not None else str(value).strip()


def _norm_date(value: Any) -> str | None:
    if is_blank(value):
        return None
    converted = to_date(value)
    return converted if isinstance(converted, str) else str(value)


def _norm_datetime(value: Any) -> str | None:
    """ISO-8601 UTC with milliseconds, as HubSpot returns datetimes (epoch ms parse too)."""
    if is_blank(value):
        return None
    converted = to_datetime(value)
    return converted if isinstance(converted, str) else str(value).strip()


def _norm_bool(value: Any) -> str | None:
    if is_blank(value):
        return None
    text = str(value).strip().lower()
    return {"1": "true", "yes": "true", "0": "false", "no": "false"}.get(text, text)


NORMALISERS: dict[str, Callable[[Any], str | None]] = {
    "number": _norm_number, "date": _norm_date, "datetime": _norm_datetime, "bool": _norm_bool,
}


def normaliser(hubspot_type: str | None) -> Callable[[Any], str | None]:
    """The normaliser for a HubSpot property type (string-like types by default)."""
    return NORMALISERS.get(hubspot_type or "string", _norm_string)


def normalise_frame(frame: pd.DataFrame, property_types: Mapping[str, str]) -> pd.DataFrame:
    """Each property column normalised by its HubSpot type; missing values are None."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        fn = normaliser(property_types.get(column))
        out[column] = pd.Series(_each_distinct(fn, frame[column].tolist()), index=frame.index,
                                dtype=object)
    return out


_UNSEEN = object()


def _each_distinct(fn: Callable[[Any], str | None], values: list[Any]) -> list[str | None]:
    """``fn`` of each value, computed once per distinct value (a city, a country, a status
    repeat across a million records). Keyed by type too: 1, 1.0 and True are equal keys
    to a dict but need not normalise alike."""
    seen: dict[tuple[type, Any], str | None] = {}
    out: list[str | None] = []
    for value in values:
        try:
            result = seen.get((type(value), value), _UNSEEN)
        except TypeError:  # unhashable (a list or a dict): no reuse
            out.append(fn(value))
            continue
        if result is _UNSEEN:
            result = seen[(type(value), value)] = fn(value)
        out.append(result)  # type: ignore[arg-type]
    return out


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` built column by column (pandas boxes every cell of
    every row on the way, the larger part of the time at a million rows)."""
    columns = list(frame.columns)
    if not len(frame) or not columns or len(set(columns)) != len(columns):
        return frame.to_dict("records")
    return [dict(zip(columns, values, strict=True))
            for values in zip(*(frame[c].tolist() for c in columns), strict=True)]


def _wide(records: pd.Series, columns: list[str]) -> pd.DataFrame:
    """A Series of property dicts -> one column per property (absent keys are None)."""
    rows = [r if isinstance(r, Mapping) else {} for r in records.tolist()]
    wide = pd.DataFrame.from_records(rows, index=records.index, columns=columns)
    return wide.astype(object).where(wide.notna(), None)


def compute_delta(source: pd.DataFrame, hubspot: pd.DataFrame, mapping: EntityMapping,
                  property_types: Mapping[str, str], *, full_refresh: bool = False,
                  owner_of: Mapping[str, str] | None = None,
                  warnings: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Classify every source record against HubSpot.

    ``source``: the source snapshot (source_id, changed_at, properties dict, skip_reason).
    ``hubspot``: HubSpot's side (source_id, hubspot_id, matched_by, properties dict); in a
    full refresh also records with no source row (their source_id from the id property).
    ``owner_of``: for records matched by a match key, the id-property value the HubSpot
    record already carries (hubspot_id -> id value), to detect conflicts (extract_hubspot
    gives it for unique keys only).
    ``warnings``: source id -> why a match key did not adopt (a shared domain); the reason
    of that record's create.
    Returns one row per record with DELTA_COLUMNS; ``after`` holds every mapped value
    (normalised) and ``changed_fields`` the properties the write will send.
    """
    names = [p.to for p in mapping.properties]
    ownership = {p.to: p.ownership for p in mapping.properties}
    id_property = mapping.hubspot.id_property
    owner_of = owner_of or {}

    src_records = frame_records(source[[c for c in source.columns if c != "properties"]]) \
        if len(source) else []
    src_props = source["properties"].tolist() if len(source) else []
    # source id -> (hubspot id, matched by), and the HubSpot values normalised once, without
    # the missing ones (what ``before`` holds): one dict per record, not three.
    hs_by_id: dict[str, tuple[Any, Any]] = {}
    hs_props: list[Any] = []
    if len(hubspot):
        unique = hubspot.drop_duplicates("source_id", keep="first")
        matched = unique["matched_by"].tolist() if "matched_by" in unique.columns \
            else [None] * len(unique)
        for sid, hid, how, props in zip(unique["source_id"].tolist(),
                                        unique["hubspot_id"].tolist(), matched,
                                        unique["properties"].tolist(), strict=True):
            hs_by_id[sid] = (hid, how)
            hs_props.append(props)
        del unique
    # A caller that passed the snapshots without keeping a name frees them here.
    del source, hubspot
    src_after = _normalised_records(src_props, names, property_types)
    del src_props
    hs_before = dict(zip(hs_by_id, ({k: v for k, v in r.items() if v is not None} for r in
                                    _normalised_records(hs_props, names, property_types)),
                         strict=True))
    del hs_props

    rows: list[dict[str, Any]] = []
    for record, after in zip(src_records, src_after, strict=True):
        source_id = record["source_id"]
        row: dict[str, Any] = {
            "source_id": source_id, "hubspot_id": None, "action": "", "changed_fields": [],
            "before": {}, "after": after, "reason": None, "matched_by": None,
            "changed_at": record.get("changed_at"),
        }
        skip_reason = record.get("skip_reason")
        current = hs_by_id.get(source_id)
        if current is not None:
            row["hubspot_id"], row["matched_by"] = current
            row["before"] = dict(hs_before[source_id])
        if isinstance(skip_reason, str) and skip_reason:
            row.update(action="skipped", reason=skip_reason)
        elif current is None:
            if mapping.mode == "update_only":
                row.update(action="skipped", reason="update_only: no HubSpot record to update")
            else:
                row.update(action="create", reason=(warnings or {}).get(source_id),
                           changed_fields=[n for n in names if after.get(n) is not None])
        else:
            matched_by = row["matched_by"]
            adopted = matched_by not in (None, "", id_property)
            owner = owner_of.get(str(row["hubspot_id"]))
            expected_id = mapping.source_id_value(source_id)
            if adopted and owner and owner != expected_id:
                key_value = after.get(matched_by)
                row.update(action="conflict", reason=(
                    f"{matched_by} {key_value!r} belongs to HubSpot {mapping.hubspot.object} "
                    f"{row['hubspot_id']}, already synced from {owner}"))
            elif mapping.mode == "create_only":
                row.update(action="skipped" if adopted else "unchanged",
                           reason="create_only: record exists" if adopted else None)
            else:
                changed = _changed_fields(after, row["before"], ownership)
                if adopted:
                    changed = [*changed, id_property]
                row.update(action="update" if changed else "unchanged", changed_fields=changed)
        rows.append(row)

    if full_refresh:
        known = {r["source_id"] for r in src_records}
        for source_id, current in hs_by_id.items():
            if source_id in known:
                continue
            rows.append({
                "source_id": source_id, "hubspot_id": current[0],
                "action": "orphan", "changed_fields": [], "after": {},
                "before": hs_before[source_id],
                "reason": "no longer in the source; left in HubSpot",
                "matched_by": current[1], "changed_at": None})
    return pd.DataFrame(rows, columns=DELTA_COLUMNS)


def _normalised_records(properties: list[Any], names: list[str],
                        property_types: Mapping[str, str]) -> list[dict[str, Any]]:
    """The ``properties`` dicts of a snapshot, normalised column by column (plain lists: a
    frame of them cost a copy per step at a million records, and turned a number missing
    in some records into a float in all of them)."""
    if not properties:
        return []
    records = [r if isinstance(r, Mapping) else {} for r in properties]
    if not names:
        return [{} for _ in records]
    columns = [_each_distinct(normaliser(property_types.get(name)),
                              [r.get(name) for r in records]) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _changed_fields(after: Mapping[str, Any], before: Mapping[str, Any],
                    ownership: Mapping[str, str]) -> list[str]:
    changed = []
    for name, rule in ownership.items():
        new, old = after.get(name), before.get(name)
        if rule == "never":
            continue
        if rule == "fill_if_empty":
            if old is None and new is not None:
                changed.append(name)
        elif new != old:
            changed.append(name)
    return changed


def summarise(delta: pd.DataFrame) -> dict[str, int]:
    """Counts per action."""
    counts = delta["action"].value_counts().to_dict() if len(delta) else {}
    return {action: int(counts.get(action, 0)) for action in DELTA_ACTIONS}
