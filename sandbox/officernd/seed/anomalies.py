"""The anomaly index: which records carry each kind of messy data, read from the records.

Recomputed from the data itself, so it stays true after mutations and patches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sandbox.officernd.seed.vocabulary import UNMAPPED_STATUS_NAMES

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(value: object) -> str | None:
    """Trimmed, lower-cased email, or None when missing or invalid."""
    if not isinstance(value, str):
        return None
    norm = value.strip().lower()
    return norm if norm and EMAIL_RE.match(norm) else None


def url_domain(url: object) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    host = url.strip().lower()
    host = re.sub(r"^[a-z]+://", "", host).split("/")[0].split(":")[0]
    return host[4:] if host.startswith("www.") else host


def has_many_decimals(price: object) -> bool:
    if isinstance(price, bool) or not isinstance(price, int | float):
        return False
    return abs(price * 100 - round(price * 100)) > 1e-6


ANOMALY_KEYS = {
    "members": ("invalid_email", "missing_email", "duplicate_email", "unnormalised_email",
                "unicode_name", "single_word_name", "missing_phone"),
    "companies": ("shared_domain",),
    "plans": ("negative_price", "many_decimals"),
    "resources": ("non_numeric_price", "many_decimals"),
    "contracts": ("no_end_date", "dates_out_of_range"),
    "opportunities": ("unmapped_status",),
}


def _date_out_of_range(start: object, end: object) -> bool:
    for value in (start, end):
        if isinstance(value, str) and not ("1900" <= value[:4] <= "2100"):
            return True
    return isinstance(start, str) and isinstance(end, str) and end < start


def detect_anomalies(records: Mapping[str, Iterable[dict]]) -> dict[str, dict[str, list[str]]]:
    """Ids of records carrying each kind of messy data, computed from the records.

    Records must come in ``_id`` order (duplicates and shared domains name the later record).
    """
    out: dict[str, dict[str, list[str]]] = {r: {k: [] for k in keys}
                                            for r, keys in ANOMALY_KEYS.items()}
    mem = out["members"]
    seen: set[str] = set()
    for m in records.get("members", ()):
        mid, email, name = m.get("_id"), m.get("email"), m.get("name")
        if email is None or (isinstance(email, str) and not email.strip()):
            mem["missing_email"].append(mid)
        else:
            norm = normalise_email(email)
            if norm is None:
                mem["invalid_email"].append(mid)
            else:
                if norm != email:
                    mem["unnormalised_email"].append(mid)
                if norm in seen:
                    mem["duplicate_email"].append(mid)
                seen.add(norm)
        if isinstance(name, str):
            if not name.isascii():
                mem["unicode_name"].append(mid)
            if name.strip() and len(name.split()) == 1:
                mem["single_word_name"].append(mid)
        phone = m.get("phone")
        if phone is None or (isinstance(phone, str) and not phone.strip()):
            mem["missing_phone"].append(mid)
    domains: set[str] = set()
    for c in records.get("companies", ()):
        domain = url_domain(c.get("url"))
        if domain:
            if domain in domains:
                out["companies"]["shared_domain"].append(c.get("_id"))
            domains.add(domain)
    for p in records.get("plans", ()):
        price = p.get("price")
        if isinstance(price, int | float) and not isinstance(price, bool) and price < 0:
            out["plans"]["negative_price"].append(p.get("_id"))
        if has_many_decimals(price):
            out["plans"]["many_decimals"].append(p.get("_id"))
    for r in records.get("resources", ()):
        price = r.get("price")
        if price is not None and (isinstance(price, bool) or not isinstance(price, int | float)):
            out["resources"]["non_numeric_price"].append(r.get("_id"))
        if has_many_decimals(price):
            out["resources"]["many_decimals"].append(r.get("_id"))
    for c in records.get("contracts", ()):
        if c.get("endDate") is None:
            out["contracts"]["no_end_date"].append(c.get("_id"))
        elif _date_out_of_range(c.get("startDate"), c.get("endDate")):
            out["contracts"]["dates_out_of_range"].append(c.get("_id"))
    # isinstance first: raw records may hold unhashable objects where ids belong
    unmapped = {s["_id"] for s in records.get("opportunity-statuses", ())
                if isinstance(s.get("_id"), str) and isinstance(s.get("description"), str)
                and s["description"] in UNMAPPED_STATUS_NAMES}
    for o in records.get("opportunities", ()):
        if isinstance(o.get("status"), str) and o["status"] in unmapped:
            out["opportunities"]["unmapped_status"].append(o.get("_id"))
    return out
