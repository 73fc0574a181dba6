"""validate_rows: the suite generated from the mapping, run on the rows about to be written,
splitting them into the valid rows and the rejects (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspot_sync.records import REJECT_COLUMNS
from hubspot_sync.validation.outcome import ValidationOutcome
from hubspot_sync.validation.plan import PATTERNS, RULE_UNIQUE, Check, plan_checks
from hubspot_sync.validation.rejects import check_rejects, problem_rejects, unique_rejects
from hubspot_sync.validation.suite import brief, run_suite

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    import pandas as pd

    from hubspot_sync.mapping import EntityMapping


def _as_text(series: pd.Series) -> pd.Series:
    """Values as str (object dtype), blank and missing as None: values.is_blank over a
    whole column at once (per-value calls would cost seconds on 100,000 rows)."""
    import pandas as pd

    text = series.astype("string")
    text = text.mask(text.str.strip() == "")
    return pd.Series(text.to_numpy(dtype=object, na_value=None), index=series.index,
                     dtype=object)


def _working_frame(rows: pd.DataFrame, mapping: EntityMapping, checks: list[Check],
                   with_row: bool) -> pd.DataFrame:
    """The frame GX validates: source_id, id_value, each property as text, helper columns."""
    import pandas as pd

    index = pd.RangeIndex(len(rows))
    data: dict[str, Any] = {"source_id": rows["source_id"].astype(str).to_numpy(dtype=object)}
    if with_row:
        data["__row"] = index.to_numpy()
    data["id_value"] = _as_text(rows["id_value"]).to_numpy()
    for prop in mapping.properties:
        data[prop.to] = _as_text(rows[prop.to]).to_numpy()
    work = pd.DataFrame(data, index=index)
    for check in checks:
        column = check.column
        if column is None or column in work.columns or not column.startswith("__"):
            continue
        kind, _, base = column[2:].partition("__")
        text = work[base].astype("string")
        if kind == "number":
            ok = text.str.fullmatch(PATTERNS["number"]).fillna(False).astype(bool)
            numbers = pd.to_numeric(text.where(ok), errors="coerce")
            work[column] = numbers.astype("float64").to_numpy()
        elif kind == "date":
            parts = text.str.extract(r"^(\d{4})-(\d{2})-(\d{2})")
            numbers = parts.apply(pd.to_numeric, errors="coerce").astype("float64")
            work[column] = (numbers[0] * 10000 + numbers[1] * 100 + numbers[2]).to_numpy()
        elif kind == "key":  # the id property and hasUniqueValue properties: exact
            work[column] = text.to_numpy(dtype=object, na_value=None)
        elif kind == "casefold":  # HubSpot matches emails case-insensitively
            key = text.str.strip().str.casefold()
            work[column] = key.to_numpy(dtype=object, na_value=None)
    return work


def validate_rows(rows: pd.DataFrame, mapping: EntityMapping, hubspot_properties: dict[str, dict],
                  *, run_id: str, docs_dir: Path | None = None) -> ValidationOutcome:
    """Run the suite generated from ``mapping`` on ``rows`` and split them into valid and rejects.

    ``rows`` has ``source_id``, ``action``, ``id_value``, ``problems`` (list of
    :class:`~hubspot_sync.transforms.Problem`: property, value, reason, rule (default
    ``value_map``)) and one column per mapped property (``p.to``), oldest change
    first: for a duplicate key the first row wins. ``hubspot_properties`` are HubSpot's
    definitions by name; a property missing there falls back to the mapping's type/options.
    With ``docs_dir``, Data Docs are written to ``docs_dir/<entity>/<run_id>/index.html``.
    """
    import pandas as pd

    checks = plan_checks(mapping, hubspot_properties)
    empty_rejects = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    total = len(rows)
    if total == 0:  # nothing to write: no GX run, no Data Docs
        return ValidationOutcome(valid=rows.copy(), rejects=empty_rejects, rule_counts={},
                                 rejected_ratio=0.0, data_docs_path=None, checked=0,
                                 entity=mapping.entity)
    missing = [c for c in ["source_id", "id_value", *(p.to for p in mapping.properties)]
               if c not in rows.columns]
    if missing:
        raise ValueError(f"validate {mapping.entity}: rows lack columns {', '.join(missing)}")
    for check in checks:
        if check.column is not None and check.value_column is not None \
                and check.value_column not in ("id_value", "source_id") \
                and check.value_column not in {p.to for p in mapping.properties}:
            raise ValueError(f"mapping {mapping.entity}: expectation {check.rule} names column "
                             f"{check.value_column!r}, which is not a mapped property, "
                             "id_value or source_id")

    source_ids = rows["source_id"].astype(str).to_numpy(dtype=object)
    with_row = not pd.Index(source_ids).is_unique
    work = _working_frame(rows, mapping, checks, with_row)
    results, docs_path = run_suite(work, checks, mapping.entity, run_id, docs_dir, with_row)

    parts: list[pd.DataFrame] = []
    batch_failures: list[str] = []
    sid_index = pd.Index(source_ids)
    for index, check in enumerate(checks):
        result = results[index]
        unexpected = result.result.get("unexpected_index_list")
        if not unexpected:
            if not result.success and "unexpected_index_list" not in result.result:
                batch_failures.append(f"{check.rule}({check.column or ''}): "
                                      f"{brief(result.result)}")
            continue
        found = pd.DataFrame(unexpected)
        if with_row:
            positions = found["__row"].to_numpy(dtype="int64")
        else:
            positions = sid_index.get_indexer(found["source_id"].astype(str))
        positions = positions[positions >= 0]
        if check.rule == RULE_UNIQUE:
            parts.append(unique_rejects(work, check, positions, source_ids))
        else:
            parts.append(check_rejects(work, check, positions, source_ids))
    parts.append(problem_rejects(rows, mapping, source_ids))
    parts = [p for p in parts if len(p)]
    rejects = (pd.concat(parts, ignore_index=True) if parts else empty_rejects)
    rejected_positions = (rejects.pop("__pos").to_numpy() if len(rejects) else [])
    rejects = rejects[REJECT_COLUMNS].reset_index(drop=True)
    keep = pd.Series(True, index=pd.RangeIndex(total))
    if len(rejected_positions):
        keep.iloc[pd.unique(rejected_positions)] = False
    valid = rows.loc[keep.to_numpy()].copy()
    rule_counts = {str(k): int(v) for k, v in rejects["rule"].value_counts().items()}
    n_rejected = total - len(valid)
    return ValidationOutcome(valid=valid, rejects=rejects, rule_counts=rule_counts,
                             rejected_ratio=n_rejected / total, data_docs_path=docs_path,
                             checked=total, entity=mapping.entity, batch_failures=batch_failures)
