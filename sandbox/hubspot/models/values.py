"""Values as HubSpot stores them: timestamps, numbers, and the type check of a written value.

Pure functions; ``normalize`` returns the canonical string HubSpot would store for a
property value, or the problem it would report.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sandbox.hubspot.models.errors import problem

if TYPE_CHECKING:
    from sandbox.hubspot.models.properties import PropertyDef

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT_RE = re.compile(r"^-?\d+$")

def now_ms() -> int:
    return int(time.time() * 1000)


def fmt_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _parse_iso(value: str) -> int | None:
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))


def to_epoch_ms(value: str) -> int | None:
    """Epoch ms from epoch-ms digits, an ISO datetime or YYYY-MM-DD; None if unparseable."""
    text = str(value).strip()
    if INT_RE.match(text):
        return int(text)
    if DATE_RE.match(text):
        try:
            d = date.fromisoformat(text)
        except ValueError:
            return None
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)
    return _parse_iso(text)


def canonical_number(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")



def normalize(otype: str, pdef: PropertyDef, raw: Any) -> tuple[str | None, dict | None]:
    """(canonical string value or "" to clear, problem dict)."""
    name = pdef.name
    if raw is None:
        return "", None
    if isinstance(raw, bool):
        value = "true" if raw else "false"
    elif isinstance(raw, (int, float)):
        value = canonical_number(raw) or str(raw)
    else:
        value = str(raw)
    if value == "":
        return "", None
    t = pdef.type
    if name == "email" and otype == "contacts":
        v = value.strip()
        if not EMAIL_RE.match(v):
            return None, problem(name, "INVALID_EMAIL", f"Email address {value} is invalid")
        return v.lower(), None
    if t == "number":
        num = canonical_number(value)
        if num is None:
            return None, problem(name, "INVALID_INTEGER",
                                  f"{value} was not a valid number.")
        if name == "price" and otype in ("line_items", "products") and num.startswith("-"):
            return None, problem(name, "INVALID_LONG",
                                  f"{value} is not a valid price. Price cannot be negative.")
        return num, None
    if t == "bool":
        low = value.strip().lower()
        if low in ("true", "false"):
            return low, None
        return None, problem(name, "INVALID_BOOLEAN",
                              f"{value} was not a valid boolean. Expected true or false.")
    if t == "enumeration":
        allowed = pdef.option_values()
        parts = value.split(";") if pdef.field_type == "checkbox" else [value]
        for part in parts:
            if part not in allowed:
                return None, problem(
                    name, "INVALID_OPTION",
                    f"{part} was not one of the allowed options: [{', '.join(allowed)}]")
        return value, None
    if t == "date":
        text = value.strip()
        if DATE_RE.match(text):
            try:
                date.fromisoformat(text)
            except ValueError:
                return None, problem(name, "INVALID_DATE", f"{value} is not a valid date")
            return text, None
        ms = to_epoch_ms(text)
        if ms is None:
            return None, problem(name, "INVALID_DATE", f"{value} is not a valid date")
        if ms % 86_400_000:
            at = datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
            return None, problem(name, "INVALID_DATE",
                                  f"{value} is at {at} UTC, not midnight!")
        return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%d"), None
    if t == "datetime":
        ms = to_epoch_ms(value)
        if ms is None:
            return None, problem(name, "INVALID_DATE", f"{value} is not a valid datetime")
        return fmt_ms(ms), None
    return value, None
