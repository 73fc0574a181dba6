"""What HubSpot must hold for companies and members, derived from the OfficeRnD sandbox state
and the mappings (restated here, not read from the library, so a wrong transform fails).

Some outcomes depend on the order of events, not only on the final state, and are tracked
across the test's checkpoints (:class:`History`):

- a phone is ``fill_if_empty``: HubSpot keeps the first phone it got, so it may hold any
  phone the member had at some checkpoint;
- a member that leaves the members filter is skipped, its contact stays as last written;
- members sharing an email now: HubSpot keeps one contact per email, and which member
  holds it depends on the order the runs read them, so exactly one of them has a contact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MEMBER_STATUSES = {"active", "former", "pending", "contact", "lead", "drop-in"}  # the filter
DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ADDRESS = {"address": "street", "city": "city", "state": "state", "zip": "zip",
           "country": "country"}
COMPANY_PROPS = ["officernd_id", "name", "domain", "website", "description", "officernd_email",
                 *ADDRESS, "officernd_status"]
CONTACT_PROPS = ["officernd_id", "email", "firstname", "lastname", "phone", *ADDRESS,
                 "officernd_status", "officernd_start_date"]


def text(value: Any) -> str | None:
    """A value as HubSpot keeps it: trimmed text; blank is absent."""
    if value is None:
        return None
    out = str(value).strip()
    return out or None


def clean(props: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in props.items() if v is not None}


def domain_of(url: Any) -> str | None:
    if not text(url):
        return None
    raw = str(url).strip().lower()
    host = urlsplit(raw if "//" in raw else f"//{raw}").hostname or ""
    return host.removeprefix("www.") or None


def address(record: dict) -> dict[str, str | None]:
    parts = record.get("address") or {}
    return {prop: text(parts.get(key)) for prop, key in ADDRESS.items()}


def expected_company(company: dict) -> dict[str, str]:
    return clean({"name": text(company.get("name")), "domain": domain_of(company.get("url")),
                  "website": text(company.get("url")),
                  "description": text(company.get("description")),
                  "officernd_email": text(company.get("email")), **address(company),
                  "officernd_status": text(company.get("status"))})


def company_is_valid(company: dict) -> bool:
    name, dom = text(company.get("name")), domain_of(company.get("url"))
    return bool(name) and len(name) <= 255 and (dom is None or bool(DOMAIN.match(dom)))


def expected_contact(member: dict, *, with_phone: bool = False) -> dict[str, str]:
    parts = str(member.get("name") or "").split()
    first = " ".join(parts[:-1]) if len(parts) > 1 else (parts[0] if parts else None)
    props = {"email": (text(member.get("email")) or "").lower() or None, "firstname": first,
             "lastname": parts[-1] if len(parts) > 1 else None, **address(member),
             "officernd_status": text(member.get("status")),
             "officernd_start_date": (text(member.get("startDate")) or "")[:10] or None}
    if with_phone:
        props["phone"] = text(member.get("phone"))
    return clean(props)


@dataclass
class History:
    """What the members looked like at each checkpoint (after each change of the source)."""

    phones: dict[str, set[str]] = field(default_factory=dict)
    ever_expected: set[str] = field(default_factory=set)

    states: dict[str, list[str]] = field(default_factory=dict)

    def story(self, source_id: str) -> str:
        """The member's email and status at each checkpoint, for a failure's explanation."""
        return " -> ".join(self.states.get(source_id, [])) or "not a member"

    def checkpoint(self, officernd: Any) -> None:
        valid = valid_members(officernd)
        for member in officernd.state.records("members"):
            self.states.setdefault(member["_id"], []).append(
                f"{member.get('email')!r} {member.get('status')}"
                f"{'' if member['_id'] in valid else ' (invalid)'}")
        for member in officernd.state.records("members"):
            phone = text(member.get("phone"))
            if phone:
                self.phones.setdefault(member["_id"], set()).add(phone)
        self.ever_expected |= set(valid)


def valid_members(officernd: Any) -> dict[str, dict]:
    """Members the mapping writes now: in the filter, with a valid email of their own."""
    bad = officernd.anomalies()["members"]
    held = set(bad["invalid_email"]) | set(bad["missing_email"]) | set(bad["duplicate_email"])
    return {m["_id"]: m for m in officernd.state.records("members")
            if m["_id"] not in held and m.get("status") in MEMBER_STATUSES}


def shared_emails(officernd: Any) -> list[set[str]]:
    """Members in the filter with a valid email that other such members have too, by email."""
    bad = officernd.anomalies()["members"]
    invalid = set(bad["invalid_email"]) | set(bad["missing_email"])
    owners: dict[str, set[str]] = {}
    for m in officernd.state.records("members"):
        if m["_id"] not in invalid and m.get("status") in MEMBER_STATUSES:
            owners.setdefault(str(m["email"]).strip().lower(), set()).add(m["_id"])
    return [ids for ids in owners.values() if len(ids) > 1]


def picked(record: dict, keys: list[str]) -> dict[str, str]:
    return clean({k: text(record["properties"].get(k)) for k in keys})


def check_companies(officernd: Any, companies: list[dict]) -> list[str]:
    """Problems of HubSpot's companies against the source (empty when they match)."""
    source = {c["_id"]: c for c in officernd.state.records("companies")}
    problems = [f"company {sid} fails the mapping's rules (the test expects valid ones)"
                for sid, c in source.items() if not company_is_valid(c)]
    ids = [c["properties"].get("officernd_id") for c in companies]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicate companies by officernd_id")
    by_id = {c["properties"].get("officernd_id"): c for c in companies}
    if set(by_id) != set(source):
        problems.append(f"companies missing {sorted(set(source) - set(by_id))[:5]}, "
                        f"unexpected {sorted(set(by_id) - set(source), key=str)[:5]}")
    for sid in set(source) & set(by_id):
        want = expected_company(source[sid])
        got = picked(by_id[sid], COMPANY_PROPS[1:])
        if got != want:
            problems.append(f"company {sid}: {diff(want, got)}")
    return problems


def check_contacts(officernd: Any, contacts: list[dict], history: History) -> list[str]:
    """Problems of HubSpot's contacts against the source (empty when they match)."""
    members = {m["_id"]: m for m in officernd.state.records("members")}
    valid = valid_members(officernd)
    shared = shared_emails(officernd)
    tolerated = set().union(*shared)  # one of each group has a contact (module doc)
    required = set(valid) - tolerated
    allowed = required | tolerated | history.ever_expected
    problems = []
    ids = [c["properties"].get("officernd_id") for c in contacts]
    emails = [c["properties"].get("email") for c in contacts]
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicate contacts by officernd_id")
    if len(emails) != len(set(emails)):
        problems.append(f"{len(emails) - len(set(emails))} duplicate contacts by email")
    by_id = {c["properties"].get("officernd_id"): c for c in contacts}
    if missing := required - set(by_id):
        problems.append(f"{len(missing)} members without a contact: {sorted(missing)[:5]}")
    for ids in shared:
        if len(holders := ids & set(by_id)) != 1:
            problems.append(f"members sharing an email, {sorted(ids)}: contacts of "
                            f"{sorted(holders)} (want exactly one)")
    if unexpected := set(by_id) - allowed:
        problems.append(f"{len(unexpected)} unexpected contacts: "
                        f"{sorted(unexpected, key=str)[:5]}")
    for sid in required & set(by_id):
        got = by_id[sid]
        want = expected_contact(members[sid])
        values = picked(got, [p for p in CONTACT_PROPS[1:] if p != "phone"])
        if values != want:
            problems.append(f"contact {sid}: {diff(want, values)}")
        phone, now = text(got["properties"].get("phone")), text(members[sid].get("phone"))
        seen = history.phones.get(sid, set())
        if (phone is not None and phone not in seen) or (now and phone is None):
            problems.append(f"contact {sid}: phone {phone!r}, the member had {sorted(seen)}")
    return problems


def diff(want: dict, got: dict) -> str:
    keys = sorted(set(want) | set(got))
    return ", ".join(f"{k}: want {want.get(k)!r} got {got.get(k)!r}" for k in keys
                     if want.get(k) != got.get(k))
