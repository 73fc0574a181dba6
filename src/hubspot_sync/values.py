"""The small value helpers every module shares: one definition each of "blank", "as UTC"
and "chunks". Pure Python (pandas only when a value is a pandas type), cheap to import."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

T = TypeVar("T")


def is_missing(value: Any) -> bool:
    """None, NaN, or pandas' NA / NaT: no value at all."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # pandas' NA and NaT without importing pandas: both are singletons of these types.
    return type(value).__name__ in ("NAType", "NaTType")


def is_blank(value: Any) -> bool:
    """Missing, or a string of only whitespace: HubSpot stores both as an empty value."""
    return is_missing(value) or (isinstance(value, str) and not value.strip())


def as_utc(value: Any) -> datetime | None:
    """An aware UTC ``datetime`` from a datetime (naive = UTC), date, pandas Timestamp or
    ISO-8601 string; None for a missing or blank value. Raises ValueError for text that is
    not a date-time and TypeError for other types."""
    if is_blank(value):
        return None
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        value = value.to_pydatetime()
    if isinstance(value, str):
        text = value.strip()
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if type(value) is not datetime:  # pendulum and other subclasses -> plain datetime
            value = datetime(value.year, value.month, value.day, value.hour, value.minute,
                             value.second, value.microsecond, tzinfo=UTC)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"not a date-time: {value!r}")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    if size < 1:
        raise ValueError(f"chunk size must be positive, not {size}")
    for start in range(0, len(items), size):
        yield items[start:start + size]
