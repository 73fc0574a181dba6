"""Reject frames: one row per (record, rule, property) with the value sent and a reason.

Built only for the rows a check names, so per-row Python runs for rejected rows only.
Each frame carries ``__pos`` (the row's position in the batch) for the caller to drop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubspot_sync.transforms import RULE_VALUE_MAP, Problem
from hubspot_sync.validation.plan import Check, list_options

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from hubspot_sync.mapping import EntityMapping

MAX_VALUE_CHARS = 1_000  # the rejects table keeps at most this much of a value


def _values(work: pd.DataFrame, column: str | None, positions: Any) -> list[str]:
    if column is None:
        return [""] * len(positions)
    values = work[column].to_numpy(dtype=object, na_value=None)[positions]
    return ["" if v is None else str(v) for v in values]


def _frame(positions: Any, source_ids: Any, rule: str | list[str], prop: str | list[str] | None,
           values: list[str], reasons: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({
        "__pos": positions, "source_id": source_ids[positions], "rule": rule,
        "property": prop, "value": [v[:MAX_VALUE_CHARS] for v in values], "reason": reasons,
    })


def check_rejects(work: pd.DataFrame, check: Check, positions: Any,
                  source_ids: Any) -> pd.DataFrame:
    values = _values(work, check.value_column or check.property, positions)
    return _frame(positions, source_ids, check.rule, check.property, values,
                  [check.reason(v) for v in values])


def unique_rejects(work: pd.DataFrame, check: Check, positions: Any,
                   source_ids: Any) -> pd.DataFrame:
    """GX marks every copy of a duplicate; the first row keeps the value, later ones are
    rejected, naming the record that keeps it."""
    import numpy as np

    key = work[check.column]
    later = key.duplicated(keep="first").to_numpy() & key.notna().to_numpy()
    positions = np.asarray(positions)
    positions = positions[later[positions]]
    keepers = key[~key.duplicated(keep="first") & key.notna()]
    keeper_of = dict(zip(keepers.to_numpy(), source_ids[keepers.index.to_numpy()], strict=True))
    values = _values(work, check.value_column, positions)
    keys = key.to_numpy(dtype=object, na_value=None)[positions]
    rule_text = check.reason("")
    own = source_ids[positions]
    reasons = [f"{check.property} {value} is also used by {keeper_of[k]}, which keeps it; "
               f"{rule_text}" if keeper_of[k] != sid else
               f"{check.property} {value} appears more than once in this batch for {sid}; "
               f"the first row keeps it" for value, k, sid in zip(values, keys, own, strict=True)]
    return _frame(positions, source_ids, check.rule, check.property, values, reasons)


def problem_rejects(rows: pd.DataFrame, mapping: EntityMapping,
                    source_ids: Any) -> pd.DataFrame:
    """Each problem found while mapping (``value_map``, ``structured_value``) is a reject."""
    import pandas as pd

    if "problems" not in rows.columns:
        return pd.DataFrame()
    found: list[tuple[int, str, str, str, str]] = []
    for pos, problems in enumerate(rows["problems"].to_numpy(dtype=object)):
        if problems is None or isinstance(problems, float) or len(problems) == 0:
            continue
        for problem in map(lambda p: Problem(*p), problems):
            text = "" if problem.value is None else str(problem.value)
            reason = problem.reason
            if problem.rule == RULE_VALUE_MAP:
                reason = _value_map_reason(mapping, str(problem.property), reason)
            found.append((pos, problem.rule, str(problem.property), text, reason))
    if not found:
        return pd.DataFrame()
    positions, rules, props, values, reasons = (list(col) for col in zip(*found, strict=True))
    return _frame(pd.Series(positions).to_numpy(), source_ids, rules, props, values, reasons)


def _value_map_reason(mapping: EntityMapping, prop: str, reason: str) -> str:
    spec = next((p for p in mapping.properties if p.to == prop), None)
    if spec is not None and spec.value_map:
        return f"{reason} (known values: {list_options(list(spec.value_map))})"
    return reason
