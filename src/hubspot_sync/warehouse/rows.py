"""How values go into and come out of the warehouse: ids as text, JSON as plain Python,
timestamps as aware UTC, frames of object columns, and statements in bounded batches."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import pandas as pd

from hubspot_sync.values import as_utc, chunks, is_missing

CHUNK = 10_000  # rows per executemany / ids per IN list

Rows: TypeAlias = pd.DataFrame | Iterable[Mapping[str, Any]]


def now() -> datetime:
    return datetime.now(UTC)


def batches(items: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size`` (never more than CHUNK, read at call time so tests can
    lower it)."""
    return chunks(items, min(size or CHUNK, CHUNK))


# --------------------------------------------------------------------------- JSON


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _drop_nan(obj: Any) -> Any:
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, Mapping):
        return {k: _drop_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_drop_nan(v) for v in obj]
    return obj


_ENCODE = json.JSONEncoder(default=_json_default, allow_nan=False, ensure_ascii=False).encode


def dumps(obj: Any) -> str:
    """JSON text for the warehouse: NaN/inf become null, dates ISO, numpy plain."""
    try:
        return _ENCODE(obj)
    except ValueError:  # NaN or inf somewhere: JSON has no such number
        return _ENCODE(_drop_nan(obj))


# --------------------------------------------------------------------------- cells


def as_key(v: Any) -> str | None:
    """Ids as text: 12 and 12.0 (pandas int-with-NaN) both become '12'."""
    if is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "item"):
        return as_key(v.item())
    return str(v)


def as_text(v: Any) -> str | None:
    if isinstance(v, dict | list | tuple):
        return dumps(v)
    return as_key(v)


def as_json(v: Any) -> Any:
    if isinstance(v, dict | list):
        return v
    if hasattr(v, "tolist") and not isinstance(v, str):  # numpy arrays from pandas ops
        return v.tolist()
    if is_missing(v):
        return None
    return v


def as_int(v: Any) -> int | None:
    if is_missing(v):
        return None
    if isinstance(v, str):
        v = v.strip()
        if not v:
            return None
    return int(v)


def utc_list(values: list[Any]) -> list[datetime | None]:
    """Vectorised parse to aware UTC; unparseable values become None."""
    if not values:
        return []
    if all(isinstance(v, datetime) or is_missing(v) for v in values):
        return [as_utc(v) for v in values]
    parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce",
                            format="ISO8601")
    return [None if v is pd.NaT else as_utc(v) for v in parsed.astype(object)]


CONVERTERS = {"key": as_key, "text": as_text, "json": as_json}


# --------------------------------------------------------------------------- frames


def columns_of(rows: Rows | None, names: Sequence[str]) -> tuple[int, dict[str, list[Any]]]:
    """Row count and one Python list per wanted column (missing columns are all None)."""
    if rows is None:
        return 0, {n: [] for n in names}
    if isinstance(rows, pd.DataFrame):
        n = len(rows)
        cols = {}
        for name in names:
            if name in rows.columns:
                series = rows[name]
                if isinstance(series, pd.DataFrame):  # duplicated column name
                    series = series.iloc[:, 0]
                cols[name] = series.tolist()
            else:
                cols[name] = [None] * n
        return n, cols
    records = [r if isinstance(r, Mapping) else dict(r) for r in rows]
    return len(records), {name: [r.get(name) for r in records] for name in names}


def frame(rows: Sequence[Any], columns: Sequence[str], *, dt: Sequence[str] = (),
          ints: Sequence[str] = (), bools: Sequence[str] = ()) -> pd.DataFrame:
    """A DataFrame of object columns (None stays None), typed where asked."""
    names = list(columns)
    if rows and len(set(names)) == len(names):  # column by column: no tuple per row
        values = map(list, zip(*rows, strict=True))
        df = pd.DataFrame(dict(zip(names, values, strict=True)), columns=names, dtype=object)
    else:
        df = pd.DataFrame([tuple(r) for r in rows], columns=names, dtype=object)
    for c in dt:
        df[c] = pd.to_datetime(df[c], utc=True)
    for c in ints:
        df[c] = df[c].astype("Int64") if df[c].isna().any() else df[c].astype("int64")
    for c in bools:
        df[c] = df[c].astype(bool)
    return df
