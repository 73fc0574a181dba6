"""The sandbox's time: the OfficeRnD timestamp format and the sandbox clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fmt_ts(value: datetime | int) -> str:
    """ISO-8601 UTC with milliseconds and a Z: ``2026-11-02T10:03:33.169Z``.

    ``value`` is a datetime (naive means UTC) or epoch milliseconds.
    """
    if isinstance(value, int):
        value = _EPOCH + timedelta(milliseconds=value)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    else:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_ts(text: str) -> datetime:
    """Parse an ISO-8601 date or date-time (``Z`` or offset; naive means UTC) to aware UTC."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def midnight(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def add_months(value: datetime, months: int) -> datetime:
    month0 = value.month - 1 + months
    year, month = value.year + month0 // 12, month0 % 12 + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28,
            31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return value.replace(year=year, month=month, day=min(value.day, days))



class Clock:
    """Sandbox "now": anchor + real time elapsed since start/reset + explicit advances."""

    def __init__(self, anchor: datetime) -> None:
        self.anchor = anchor
        self._t0 = time.monotonic()
        self._offset = 0.0

    def now(self) -> datetime:
        return self.anchor + timedelta(seconds=time.monotonic() - self._t0 + self._offset)

    def set(self, value: datetime) -> datetime:
        self._offset = (value - self.anchor).total_seconds() - (time.monotonic() - self._t0)
        return self.now()

    def advance(self, seconds: float) -> datetime:
        self._offset += seconds
        return self.now()

    def reset(self, anchor: datetime | None = None) -> None:
        self.anchor = anchor or self.anchor
        self._t0 = time.monotonic()
        self._offset = 0.0
