"""Deterministic, scalable, realistically messy OfficeRnD Flex seed data.

``generate(seed, scale, anchor)`` returns a :class:`Dataset`: plain dicts shaped like the
OfficeRnD Flex API v2 (see docs/officernd-sandbox.md for the shares of messy data).
The same seed, scale and anchor always give byte-identical data.

``detect_anomalies(records)`` recomputes the anomaly index from the data itself, so it stays
true after mutations.

Nested values (addresses, privacy settings, ...) may be shared between records to save
memory: callers must replace top-level keys, never mutate nested values in place.
"""

from __future__ import annotations

import gc
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

RESOURCES = (
    "locations",
    "plans",
    "opportunity-statuses",
    "companies",
    "members",
    "resources",
    "contracts",
    "memberships",
    "opportunities",
    "fees",
)

#: Resources whose records carry createdAt / modifiedAt.
TIMESTAMPED = frozenset(
    {"companies", "members", "resources", "contracts", "memberships", "opportunities", "fees"}
)

# Messy-data shares (of members, companies, contracts, opportunities). Counts are exact:
# round(share * n) records are picked with the seeded RNG.
SHARES = {
    "members.invalid_email": 0.03,
    "members.missing_email": 0.02,
    "members.duplicate_email": 0.01,
    "members.unnormalised_email": 0.05,
    "members.unicode_name": 0.10,
    "members.cjk_name": 0.01,  # part of unicode_name; single word as well
    "members.ascii_single_word_name": 0.02,  # + cjk_name = 3% single_word_name
    "members.missing_phone": 0.15,
    "members.without_company": 0.20,
    "companies.shared_domain": 0.05,
    "contracts.no_end_date": 0.10,
    "contracts.dates_out_of_range": 0.02,
    "opportunities.unmapped_status": 0.10,
}
NEGATIVE_PRICE_PLANS = 2
MANY_DECIMAL_PLANS = 3
MANY_DECIMAL_RESOURCE_SHARE = 0.03
NON_NUMERIC_PRICE_RESOURCES = 1

#: Opportunity statuses: (description, probability, isSystem). "On hold" is the status no
#: stage map is expected to map (anomaly ``opportunities.unmapped_status``).
OPPORTUNITY_STATUSES = (
    ("Open", 50, True),
    ("Tour booked", 40, False),
    ("Proposal", 60, False),
    ("Negotiation", 80, False),
    ("Won", 100, True),
    ("Lost", 0, True),
    ("On hold", 20, False),
)
UNMAPPED_STATUS_NAMES = frozenset({"On hold"})

ADMIN_USER = "5f0c2e1a9b3d4c0012a0b001"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# --------------------------------------------------------------------------- time helpers

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


# --------------------------------------------------------------------------- ids


class IdFactory:
    """MongoDB-ObjectId-like 24-hex ids: 8 hex of epoch seconds, 10 fixed hex, 6 hex counter.

    The counter makes ids unique; the time prefix makes ``_id`` order follow creation.
    """

    def __init__(self, rng: random.Random, counter: int = 1, middle: str | None = None) -> None:
        self.middle = middle or f"{rng.getrandbits(40):010x}"
        self.counter = counter

    def new(self, epoch_ms: int) -> str:
        self.counter += 1
        return f"{max(0, epoch_ms // 1000) & 0xFFFFFFFF:08x}{self.middle}{self.counter & 0xFFFFFF:06x}"


# --------------------------------------------------------------------------- vocabulary

FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
         "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa "
         "Anthony Betty Mark Sandra Paul Ashley Steven Emily Andrew Donna Joshua Michelle Kevin "
         "Amanda Brian Melissa George Laura Oliver Olivia Harry Amelia Jack Isla Noah Ava Leo "
         "Mia Arthur Ivy Oscar Freya Theo Grace Hugo Chloe Ivan Elena Nikolay Maria Peter Anna "
         "Raj Priya Omar Layla Kenji Yuki Ahmed Fatima Lucas Sofia").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
        "Roberts Petrov Ivanova Dimitrov Georgieva Patel Shah Khan Tanaka Sato Kowalski Novak "
        "Rossi Bianchi Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Dubois "
        "Moreau Laurent Silva Santos Oliveira Costa Jensen Hansen Larsen").split()
UNI_FIRST = ("Zoë José Søren Åsa Björn François Łukasz Žofia İlker Renée Chloë Jürgen Agnès "
             "Mónica Nuño Ørjan Ævar Siân Dóra Ľubica Ştefan Þór Małgorzata Jiří").split()
UNI_LAST = ("Ångström Müller Núñez Łukasiewicz Dvořák Gonçalves Öztürk Ødegaard Sánchez Weiß "
            "Jørgensen Böhm Čapek Ibáñez Håkansson Lefèvre Kovačević Şahin Þórsson Ó'Brien").split()
CJK_NAMES = ("李雷", "韩梅梅", "王芳", "张伟", "刘洋", "田中太郎", "佐藤花子", "김민준", "이서연", "陈静")
FREE_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "hotmail.com")
CO_WORDS_A = ("Blue Bright Quantum Green North Silver Urban Open Clever Rapid Happy Bold Nimble "
              "Little Iron Golden Lucky Red Swift Solid Prime Atlas Nova Pixel Cedar Maple Harbor "
              "Summit River Stone").split()
CO_WORDS_B = ("Labs Studio Works Digital Ventures Analytics Design Media Partners Consulting Robotics "
              "Systems Foods Health Logistics Capital Bakery Architects Legal Travel Games Energy "
              "Bio Cloud Data").split()
CO_SUFFIX = ("Ltd", "Inc.", "GmbH", "LLC", "", "", "", "EOOD", "S.A.", "B.V.")
TLDS = ("com", "io", "co.uk", "de", "net", "dev", "eu", "bg")
CITIES = (
    # name, code, timezone, country, city, street, zip
    ("London Shoreditch", "LON", "Europe/London", "United Kingdom", "London",
     "1 Curtain Road", "EC2A 3JX"),
    ("Berlin Mitte", "BER", "Europe/Berlin", "Germany", "Berlin", "Torstraße 109", "10119"),
    ("New York SoHo", "NYC", "America/New_York", "United States", "New York",
     "131 Spring St", "10012"),
    ("Sofia Center", "SOF", "Europe/Sofia", "Bulgaria", "Sofia", "Vitosha Blvd 89", "1463"),
    ("Lisbon Baixa", "LIS", "Europe/Lisbon", "Portugal", "Lisbon", "Rua Augusta 27", "1100-048"),
    ("Austin Eastside", "AUS", "America/Chicago", "United States", "Austin",
     "1100 E 5th St", "78702"),
)
GLOBAL_PLANS = (
    # name, code, type, intervalLength, intervalCount, price
    ("Virtual Office", "VO-M", "service", "month", 1, 49.0),
    ("Mail Handling", "MAIL-M", "service", "month", 1, 25.0),
    ("Locker", "LCK-M", "service", "month", 1, 30.0),
    ("Parking Space", "PRK-M", "service", "month", 1, 120.0),
    ("Meeting Credits 10h", "MC-10", "service", "once", 1, 250.0),
    ("Day Pass", "DP-1", "hotdesk", "once", 1, 25.0),
    ("10-Day Pass", "DP-10", "hotdesk", "once", 1, 200.0),
    ("Hot Desk", "HD-M", "hotdesk", "month", 1, 199.0),
    ("Hot Desk Part-time", "HD-PT", "hotdesk", "month", 1, 129.0),
    ("Dedicated Desk", "DD-M", "desk", "month", 1, 349.0),
    ("Dedicated Desk 6 months", "DD-6M", "desk", "month", 6, 1890.0),
    ("Private Office", "PO-M", "office", "month", 1, 950.0),
    ("Private Office 12 months", "PO-12M", "office", "month", 12, 10800.0),
    ("Setup Fee", "SETUP", "service", "once", 1, 100.0),
    ("Loyalty Credit", "CRED-L", "service", "once", 1, 0.0),
    ("Referral Discount", "CRED-R", "service", "once", 1, 0.0),
)
LOCAL_PLANS = (
    ("Hot Desk", "HD-M", "hotdesk", "month", 1, 189.0),
    ("Dedicated Desk", "DD-M", "desk", "month", 1, 329.0),
    ("Private Office", "PO-M", "office", "month", 1, 890.0),
)
MANY_DECIMAL_VALUES = (149.99999, 89.333333, 12.3456, 199.00001, 74.995, 1234.5678)
MEMBER_STATUSES = (("active", 70), ("former", 10), ("pending", 5), ("contact", 5),
                   ("lead", 5), ("drop-in", 3), ("not_approved", 2))
COMPANY_STATUSES = (("active", 75), ("former", 10), ("pending", 4), ("inactive", 4),
                    ("lead", 4), ("drop-in", 2), ("not_approved", 1))
CONTRACT_STATUSES = (("signed", 60), ("not_signed", 15), ("draft", 10), ("terminated", 10),
                     ("canceled", 5))
RESOURCE_TYPES = (("meeting_room", 15), ("team_room", 30), ("desk", 25), ("desk_tr", 15),
                  ("hotdesk", 15))
FEE_NAMES = ("Meeting room overage", "Printing", "Day pass", "Event ticket", "Key card replacement",
             "Guest lunch", "Locker (one-off)", "Late payment fee")
PORTAL_PRIVACY = {"isVisible": True, "showContactDetails": False, "showSocialProfiles": True}
NO_PROPERTIES: dict = {}


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...], k: int) -> list[str]:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table], k=k)


def _pick_exact(rng: random.Random, pool: list[int], shares: list[float], n: int) -> list[set[int]]:
    """Disjoint subsets of ``pool`` with exactly round(share * n) members each."""
    pool = list(pool)
    rng.shuffle(pool)
    out, start = [], 0
    for share in shares:
        k = min(round(share * n), len(pool) - start)
        out.append(set(pool[start:start + k]))
        start += k
    return out


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum())


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


# --------------------------------------------------------------------------- dataset


@dataclass
class Dataset:
    seed: int
    scale: int
    anchor: datetime
    records: dict[str, list[dict]]
    id_middle: str
    id_counter: int
    meta: dict = field(default_factory=dict)

    def anomalies(self) -> dict[str, dict[str, list[str]]]:
        return detect_anomalies(self.records)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.records.items()}


class _Gen:
    """Record builders shared by the seed and by sandbox mutations (creates)."""

    def __init__(self, rng: random.Random, ids: IdFactory, anchor: datetime) -> None:
        self.rng = rng
        self.ids = ids
        self.anchor = anchor
        self.anchor_ms = to_ms(anchor)
        self.taken_emails: set[str] = set()
        self.taken_domains: set[str] = set()

    # timestamps ---------------------------------------------------------------
    def stamps(self) -> tuple[int, int]:
        """(createdAt, modifiedAt) in epoch ms within the 30 days before the anchor."""
        rng = self.rng
        span = 30 * 86_400_000
        created = self.anchor_ms - rng.randrange(1, span)
        if rng.random() < 0.4:
            modified = created
        else:
            modified = created + rng.randrange(0, self.anchor_ms - created + 1)
        return created, modified

    def day(self, lo_days: int, hi_days: int) -> datetime:
        return midnight(self.anchor) + timedelta(days=self.rng.randint(lo_days, hi_days))

    def base(self, created_ms: int, modified_ms: int) -> dict:
        return {"properties": NO_PROPERTIES, "_id": self.ids.new(created_ms)}

    def audit(self, rec: dict, created_ms: int, modified_ms: int) -> dict:
        rec["createdAt"] = fmt_ts(created_ms)
        rec["createdBy"] = ADMIN_USER
        rec["modifiedAt"] = fmt_ts(modified_ms)
        rec["modifiedBy"] = ADMIN_USER
        return rec

    # people -------------------------------------------------------------------
    def person_name(self, kind: str) -> str:
        rng = self.rng
        if kind == "cjk":
            return rng.choice(CJK_NAMES)
        if kind == "unicode":
            return f"{rng.choice(UNI_FIRST)} {rng.choice(LAST + UNI_LAST)}"
        if kind == "single":
            return rng.choice(FIRST)
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"

    def email_for(self, name: str, domain: str) -> str:
        parts = [_ascii(p).lower() for p in name.split()]
        parts = [p for p in parts if p]
        local = ".".join(parts) or f"user{self.rng.randrange(10**6)}"
        email = f"{local}@{domain}"
        while email in self.taken_emails:
            email = f"{local}{self.rng.randrange(10, 10**4)}@{domain}"
        self.taken_emails.add(email)
        return email

    def phone(self) -> str:
        rng = self.rng
        fmt = rng.randrange(4)
        if fmt == 0:
            return f"+44 20 {rng.randrange(7000, 7999)} {rng.randrange(1000, 9999)}"
        if fmt == 1:
            return f"({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-{rng.randrange(1000, 9999)}"
        if fmt == 2:
            return f"+359 88{rng.randrange(1000000, 9999999)}"
        return f"0{rng.randrange(100, 999)}-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"

    def address(self, loc: tuple) -> dict:
        _, _, _, country, city, street, zip_code = loc
        n = self.rng.randrange(1, 300)
        return {"country": country, "state": None, "city": city,
                "street": f"{n} {street.split(' ', 1)[-1]}", "zip": zip_code}

    def member(self, loc_id: str, loc: tuple, company: dict | None, name_kind: str = "plain",
               status: str | None = None) -> dict:
        rng = self.rng
        created, modified = self.stamps()
        name = self.person_name(name_kind)
        domain = url_domain(company["url"]) if company else rng.choice(FREE_DOMAINS)
        rec = self.base(created, modified)
        rec.update({
            "name": name,
            "email": self.email_for(name, domain or "example.com"),
            "phone": self.phone(),
            "image": None,
            "description": None,
            "location": loc_id,
            "company": company["_id"] if company else None,
            "status": status or _weighted(rng, MEMBER_STATUSES, 1)[0],
            "startDate": fmt_ts(self.day(-900, 0)),
            "isBillingPerson": False,
            "isContactPerson": False,
            "address": self.address(loc) if rng.random() < 0.5 else None,
            "billingDetails": None,
            "portalPrivacy": PORTAL_PRIVACY,
            "socialProfiles": ({"linkedin": f"https://linkedin.com/in/{_ascii(name).lower()}"}
                               if rng.random() < 0.3 else {}),
            "tags": ["vip"] if rng.random() < 0.05 else [],
        })
        return self.audit(rec, created, modified)

    def company(self, loc_id: str, loc: tuple, shared_domain_with: str | None = None) -> dict:
        rng = self.rng
        created, modified = self.stamps()
        suffix = rng.choice(CO_SUFFIX)
        base_name = f"{rng.choice(CO_WORDS_A)} {rng.choice(CO_WORDS_B)}"
        name = f"{base_name} {suffix}".strip()
        if shared_domain_with:
            domain = shared_domain_with
            url = rng.choice((f"https://www.{domain}", f"http://{domain}/about", domain))
        else:
            stem = base_name.lower().replace(" ", "")
            domain = f"{stem}.{rng.choice(TLDS)}"
            while domain in self.taken_domains:
                domain = f"{stem}{rng.randrange(2, 10**5)}.{rng.choice(TLDS)}"
            url = rng.choice((f"https://{domain}", f"https://www.{domain}", f"www.{domain}", domain))
        self.taken_domains.add(domain)
        rec = self.base(created, modified)
        addr = self.address(loc)
        rec.update({
            "startDate": fmt_ts(self.day(-1500, 0)),
            "location": loc_id,
            "name": name,
            "description": rng.choice((None, "", f"{base_name} is a {rng.choice(CO_WORDS_B).lower()} company.")),
            "email": f"hello@{domain}" if rng.random() < 0.7 else None,
            "image": None,
            "url": url,
            "address": addr,
            "status": _weighted(rng, COMPANY_STATUSES, 1)[0],
            "billingDetails": {"billingName": name, "vatNumber": None, "registrationNumber": None,
                               "paymentMethod": rng.choice(("Cash", "Card", "Bank transfer")),
                               "billingAddress": addr},
            "portalPrivacy": PORTAL_PRIVACY,
            "hasActiveMembersAllowance": False,
            "activeMembersAllowanceLimit": None,
            "tags": [],
        })
        return self.audit(rec, created, modified)

    def resource(self, loc_id: str, loc_code: str, n: int, price_kind: str = "plain") -> dict:
        rng = self.rng
        created, modified = self.stamps()
        rtype = _weighted(rng, RESOURCE_TYPES, 1)[0]
        size = {"meeting_room": rng.choice((4, 6, 8, 12)), "team_room": rng.randint(2, 12)}.get(rtype, 1)
        base_price = {"meeting_room": 0.0, "team_room": 420.0 * size, "desk": 349.0,
                      "desk_tr": 299.0, "hotdesk": 199.0}[rtype]
        if price_kind == "tbd":
            price: object = "TBD"
        elif price_kind == "decimals":
            price = rng.choice(MANY_DECIMAL_VALUES)
        else:
            price = round(base_price * rng.choice((0.9, 1.0, 1.0, 1.1)), 2)
        label = {"meeting_room": "Meeting Room", "team_room": "Office", "desk": "Desk",
                 "desk_tr": "Office Desk", "hotdesk": "Hot Desk Area"}[rtype]
        rec = self.base(created, modified)
        rec.update({
            "name": f"{loc_code} {label} {n}",
            "description": None,
            "type": rtype,
            "rate": None,
            "location": loc_id,
            "floor": None,
            "price": price,
            "deposit": 0,
            "size": size,
            "area": round(rng.uniform(4, 60) * 1_000_000 * size, 2),
            "childrenCount": 0,
            "desksCount": size if rtype == "team_room" else 0,
            "parents": [],
            "availability": {"startDate": "2018-01-01T00:00:00.000Z", "endDate": None},
            "images": [],
            "amenities": [],
            "privacy": rng.choice(("full", "active_members", "limited")),
        })
        return self.audit(rec, created, modified)

    def opportunity(self, status: dict, company: dict | None, member: dict | None,
                    resources: list[dict], plans: list[dict]) -> dict:
        rng = self.rng
        created, modified = self.stamps()
        rec = self.base(created, modified)
        who = company or member
        start = self.day(-30, 120) + timedelta(hours=rng.choice((9, 10, 11, 14, 15, 16)))
        rec.update({
            "name": f"{who['name']} - {rng.choice(('Private office', 'Desks', 'Expansion', 'Hot desks', 'Virtual office'))}",
            "company": company["_id"] if company else None,
            "member": member["_id"] if member else None,
            "status": status["_id"],
            "probability": status["probability"],
            "startDate": fmt_ts(start),
            "dealSize": rng.choice((rng.randrange(5, 500) * 100, round(rng.uniform(300, 60000), 2))),
            "membersCount": rng.randint(1, 25),
            "resources": [r["_id"] for r in rng.sample(resources, k=min(len(resources), rng.randint(0, 2)))],
            "requestedPlans": [p["_id"] for p in rng.sample(plans, k=min(len(plans), rng.randint(0, 2)))],
        })
        return self.audit(rec, created, modified)

    def contract(self, number: int, company: dict | None, member: dict | None, loc_id: str,
                 plans: list[dict], date_kind: str = "plain") -> dict:
        rng = self.rng
        created, modified = self.stamps()
        start = self.day(-730, 30)
        length = rng.choice((6, 12, 12, 24))
        end: datetime | None = add_months(start, length) - timedelta(days=1)
        start_s = fmt_ts(start)
        if date_kind == "no_end":
            end_s = None
        elif date_kind == "out_of_range":
            variant = rng.randrange(3)
            if variant == 0:
                end_s = fmt_ts(start - timedelta(days=rng.randint(1, 90)))
            elif variant == 1:
                start_s = f"1899-{start.month:02d}-{start.day:02d}T00:00:00.000Z"
                end_s = fmt_ts(end)
            else:
                end_s = f"2999-{start.month:02d}-{min(start.day, 28):02d}T00:00:00.000Z"
        else:
            end_s = fmt_ts(end)
        status = _weighted(rng, CONTRACT_STATUSES, 1)[0]
        stage = {"terminated": "terminated", "canceled": "expired"}.get(status) or rng.choice(
            ("active", "active", "active", "rolling", "up_for_renewal", "served_notice", "not_renewed"))
        if date_kind == "no_end" and stage == "active":
            stage = "rolling"
        entries = []
        for plan in rng.sample(plans, k=rng.choice((1, 1, 1, 2, 2, 3))):
            count = 1 if plan["type"] in ("office", "service") else rng.randint(1, 10)
            price = plan["price"]
            if rng.random() < 0.2 and price > 0:
                price = round(price * 0.9, 2)
            entries.append({
                "id": plan["_id"], "count": count, "price": price, "deposit": 0,
                "increasePriceInRolling": False,
                "steps": [{"price": price, "discount": None, "discountedAmount": 0,
                           "startDate": start_s, "endDate": end_s}],
            })
        base_total = round(sum(e["count"] * e["price"] for e in entries), 2)
        rec = self.base(created, modified)
        rec.update({
            "notice": {"months": rng.choice((1, 2, 3))},
            "number": f"CON-{number}",
            "company": company["_id"] if company else None,
            "member": member["_id"] if member else None,
            "location": loc_id,
            "documentType": "membershipagreement",
            "startDate": start_s,
            "endDate": end_s,
            "plans": entries,
            "oneOffPlans": [],
            "resources": [],
            "legalDocuments": [],
            "addendum": None,
            "isRolling": end_s is None,
            "stage": stage,
            "status": status,
            "signatureStatus": {"signed": rng.choice(("e_signed", "manually_signed")),
                                "not_signed": "out_for_signature", "terminated": "e_signed",
                                "canceled": "canceled"}.get(status),
            "signDate": start_s if status in ("signed", "terminated") else None,
            "total": round(base_total * 1.2, 2),
            "baseTotal": base_total,
            "plansTotal": base_total,
            "oneOffsTotal": 0,
            "resourcesTotal": 0,
            "type": _weighted(rng, (("new", 75), ("renewal", 15), ("expansion", 10)), 1)[0],
        })
        return self.audit(rec, created, modified)

    def membership(self, plan: dict, company: dict | None, member: dict | None, loc_id: str,
                   contract: dict | None, entry: dict | None) -> dict:
        created, modified = self.stamps()
        if contract is not None:
            start, end = contract["startDate"], contract["endDate"]
        else:
            start, end = fmt_ts(self.day(-400, 10)), None
        now = fmt_ts(self.anchor)
        calc = ("not_started" if start > now else "expired" if end and end < now else "active")
        price = entry["price"] if entry else plan["price"]
        rec = self.base(created, modified)
        rec.update({
            "name": plan["name"],
            "isPersonal": company is None,
            "status": "approved",
            "calculatedStatus": calc,
            "type": "fixed" if end else "month_to_month",
            "location": loc_id,
            "plan": plan["_id"],
            "company": company["_id"] if company else None,
            "member": member["_id"] if member else None,
            "startDate": start,
            "endDate": end,
            "intervalLength": plan["intervalLength"],
            "intervalCount": plan["intervalCount"],
            "isLocked": contract is not None,
            "price": price,
            "deposit": 0,
            "discount": None,
            "discountAmount": 0,
            "calculatedDiscountAmount": 0,
            "discountedPrice": price,
            "contract": contract["_id"] if contract else None,
            "source": "contract" if contract else "admin",
        })
        return self.audit(rec, created, modified)

    def fee(self, company: dict | None, member: dict | None, loc_id: str, plan: dict) -> dict:
        rng = self.rng
        created, modified = self.stamps()
        rec = self.base(created, modified)
        price = rng.choice((5, 10, 15, 25, 40, 75, 12.5))
        rec.update({
            "name": rng.choice(FEE_NAMES),
            "price": price,
            "quantity": rng.randint(1, 5),
            "company": company["_id"] if company else None,
            "member": member["_id"] if member else None,
            "location": loc_id,
            "plan": plan["_id"],
            "planType": "Plan",
            "issueDate": fmt_ts(self.day(-30, 0)),
            "status": rng.choice(("approved", "approved", "approved", "awaiting_approval")),
            "discount": None,
            "discountAmount": 0,
            "calculatedDiscountAmount": 0,
            "discountedPrice": price,
            "isRefundable": False,
            "isPersonal": company is None,
            "shouldBillInAdvance": False,
            "shouldUseCoins": False,
            "payment": None,
            "source": "admin",
        })
        return self.audit(rec, created, modified)


def _by_id(rows: list[dict]) -> list[dict]:
    rows.sort(key=lambda r: r["_id"])
    return rows


def generate(seed: int = 42, scale: int = 500, anchor: datetime | None = None) -> Dataset:
    """Build the seed data set: ``scale`` members, other entities scaled from it."""
    enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small dicts: the cyclic GC only costs time here
    try:
        return _generate(seed, scale, anchor)
    finally:
        if enabled:
            gc.enable()


def _generate(seed: int, scale: int, anchor: datetime | None) -> Dataset:
    if scale < 1:
        raise ValueError("scale must be >= 1")
    if anchor is None:
        anchor = datetime.now(UTC)
    elif anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    anchor = anchor.astimezone(UTC).replace(microsecond=anchor.microsecond // 1000 * 1000)
    rng = random.Random(seed)
    ids = IdFactory(rng)
    gen = _Gen(rng, ids, anchor)
    old_ms = to_ms(anchor) - 400 * 86_400_000  # ids of records without createdAt

    # locations --------------------------------------------------------------
    n_loc = rng.randint(3, 6)
    cities = rng.sample(CITIES, n_loc)
    locations = []
    for city in cities:
        name, code, tz, country, town, street, zip_code = city
        locations.append({
            "properties": NO_PROPERTIES, "_id": ids.new(old_ms), "name": name, "code": code,
            "timezone": tz, "isOpen": True, "isPublic": True, "image": None,
            "address": {"country": country, "state": None, "city": town, "street": street,
                        "zip": zip_code},
            "targetRevenuePerPeriod": [],
        })
    locations[-1]["isOpen"] = n_loc < 4  # one location closed when there are many
    loc_ids = [loc["_id"] for loc in locations]

    # opportunity statuses ---------------------------------------------------
    statuses = [{"properties": NO_PROPERTIES, "_id": ids.new(old_ms), "description": d,
                 "probability": p, "isSystem": s} for d, p, s in OPPORTUNITY_STATUSES]

    # plans ------------------------------------------------------------------
    plan_specs = [(n, c, t, il, ic, p, None) for n, c, t, il, ic, p in GLOBAL_PLANS]
    for loc, city in zip(locations, cities, strict=True):
        plan_specs += [(f"{n} - {city[0]}", f"{c}-{city[1]}", t, il, ic, p, loc["_id"])
                       for n, c, t, il, ic, p in LOCAL_PLANS]
    plans = []
    for name, code, ptype, il, ic, price, loc_id in plan_specs:
        plans.append({
            "properties": NO_PROPERTIES, "_id": ids.new(old_ms), "name": name,
            "description": f"{name} ({'one-off' if il == 'once' else f'every {ic} month(s)'})",
            "code": code, "type": ptype, "price": price, "deposit": 0, "depositPercent": 0,
            "useDepositPercent": False, "locations": [loc_id] if loc_id else list(loc_ids),
            "intervalLength": il, "intervalCount": ic, "revenueAccount": None,
            "shouldProrate": il == "month", "requiresApproval": False,
        })
    for plan in plans:
        if plan["code"] == "CRED-L":
            plan["price"] = -50.0
        elif plan["code"] == "CRED-R":
            plan["price"] = -25.0
    regular = [p for p in plans if p["price"] > 0]
    for plan, value in zip(rng.sample(regular, MANY_DECIMAL_PLANS), MANY_DECIMAL_VALUES, strict=False):
        plan["price"] = value
    contract_plans = [p for p in plans if p["intervalLength"] == "month"]

    # companies ----------------------------------------------------------------
    n_co = max(1, round(scale / 5))
    companies = [gen.company(rng.choice(loc_ids), rng.choice(cities)) for _ in range(n_co)]
    # fix address/location coherence cheaply: location index drives address
    loc_by_id = dict(zip(loc_ids, cities, strict=True))
    _by_id(companies)
    shared = _pick_exact(rng, list(range(1, n_co)), [SHARES["companies.shared_domain"]], n_co)[0]
    for i in sorted(shared):
        src = companies[rng.randrange(0, i)]
        while url_domain(src["url"]) is None:
            src = companies[rng.randrange(0, i)]
        # a later company (by _id) on an earlier company's domain
        replacement = gen.company(companies[i]["location"], loc_by_id[companies[i]["location"]],
                                  shared_domain_with=url_domain(src["url"]))
        replacement["_id"] = companies[i]["_id"]
        replacement["createdAt"], replacement["modifiedAt"] = (companies[i]["createdAt"],
                                                               companies[i]["modifiedAt"])
        companies[i] = replacement
    for co in companies:
        co["address"] = gen.address(loc_by_id[co["location"]])

    # members ------------------------------------------------------------------
    n_mem = scale
    idx = list(range(n_mem))
    no_company = _pick_exact(rng, idx, [SHARES["members.without_company"]], n_mem)[0]
    if n_mem - len(no_company) < n_co:  # tiny scales: every company needs a member
        no_company = set(list(no_company)[: max(0, n_mem - n_co)])
    with_company = [i for i in idx if i not in no_company]
    owner = {}
    rng.shuffle(with_company)
    for j, i in enumerate(with_company):
        owner[i] = companies[j] if j < n_co else companies[rng.randrange(n_co)]
    uni, cjk, single = _pick_exact(
        rng, idx, [SHARES["members.unicode_name"] - SHARES["members.cjk_name"],
                   SHARES["members.cjk_name"], SHARES["members.ascii_single_word_name"]], n_mem)
    members = []
    for i in idx:
        kind = "unicode" if i in uni else "cjk" if i in cjk else "single" if i in single else "plain"
        co = owner.get(i)
        loc_id = co["location"] if co else rng.choice(loc_ids)
        members.append(gen.member(loc_id, loc_by_id[loc_id], co, kind))
    _by_id(members)
    # messy emails and phones, on _id-ordered positions
    invalid, missing, dup, unnorm = _pick_exact(
        rng, idx, [SHARES["members.invalid_email"], SHARES["members.missing_email"],
                   SHARES["members.duplicate_email"], SHARES["members.unnormalised_email"]], n_mem)
    messy = invalid | missing | dup | unnorm
    for i in sorted(invalid):
        m = members[i]
        local, _, domain = m["email"].partition("@")
        m["email"] = rng.choice((f"{local}@", f"{local} at {domain}", f"{local}@@{domain}",
                                 f"@{domain}", f"{local}@{domain.split('.')[0]}"))
    for i in sorted(missing):
        members[i]["email"] = rng.choice((None, None, ""))
    for i in sorted(unnorm):
        m = members[i]
        email = m["email"]
        variant = rng.randrange(3)
        if variant == 0:
            m["email"] = email.upper()
        elif variant == 1:
            m["email"] = f"  {email} "
        else:
            local, _, domain = email.partition("@")
            m["email"] = f" {local.title()}@{domain.upper()}"
    for i in sorted(dup):
        for _ in range(50):
            j = rng.randrange(0, i) if i else 0
            if j != i and j not in messy:
                members[i]["email"] = members[j]["email"]
                break
    for i in _pick_exact(rng, idx, [SHARES["members.missing_phone"]], n_mem)[0]:
        members[i]["phone"] = rng.choice((None, None, ""))
    # billing / contact persons: first member of each company
    contact_of: dict[str, dict] = {}
    members_of: dict[str, list[dict]] = {}
    for m in members:
        if m["company"]:
            members_of.setdefault(m["company"], []).append(m)
            if m["company"] not in contact_of:
                contact_of[m["company"]] = m
                m["isBillingPerson"] = m["isContactPerson"] = True

    # resources ----------------------------------------------------------------
    n_res = max(10, round(scale / 10))
    ridx = list(range(n_res))
    decimals, tbd = _pick_exact(rng, ridx, [MANY_DECIMAL_RESOURCE_SHARE, 0], n_res)
    tbd = {rng.choice([i for i in ridx if i not in decimals])}
    resources = []
    for i in ridx:
        loc = locations[i % n_loc]
        kind = "tbd" if i in tbd else "decimals" if i in decimals else "plain"
        resources.append(gen.resource(loc["_id"], loc["code"], i // n_loc + 1, kind))
    _by_id(resources)

    # contracts ----------------------------------------------------------------
    parties: list[tuple[dict | None, dict | None]] = []
    for co in companies:
        for _ in range(2 if rng.random() < 0.15 else 1):
            parties.append((co, contact_of.get(co["_id"])))
    n_con = len(parties)
    cidx = list(range(n_con))
    no_end, out_of_range = _pick_exact(rng, cidx, [SHARES["contracts.no_end_date"],
                                                   SHARES["contracts.dates_out_of_range"]], n_con)
    contracts = []
    for i, (co, mem) in enumerate(parties):
        if mem is not None and rng.random() < 0.3:
            mem = rng.choice(members_of[co["_id"]])
        kind = "no_end" if i in no_end else "out_of_range" if i in out_of_range else "plain"
        contracts.append(gen.contract(0, co, mem, co["location"], contract_plans, kind))
    _by_id(contracts)
    numbers = list(range(1, n_con + 1))
    for con, num in zip(contracts, numbers, strict=True):
        con["number"] = f"CON-{num}"

    # memberships ----------------------------------------------------------------
    plan_by_id = {p["_id"]: p for p in plans}
    member_by_id = {m["_id"]: m for m in members}
    company_by_id = {c["_id"]: c for c in companies}
    memberships = []
    for con in contracts:
        if con["status"] not in ("signed", "terminated"):
            continue
        for entry in con["plans"]:
            memberships.append(gen.membership(
                plan_by_id[entry["id"]], company_by_id.get(con["company"]),
                member_by_id.get(con["member"]), con["location"], con, entry))
    personal_plans = [p for p in plans if p["type"] == "hotdesk" and p["intervalLength"] == "month"]
    for m in members:
        if m["company"] is None and m["status"] == "active" and rng.random() < 0.5:
            memberships.append(gen.membership(rng.choice(personal_plans), None, m, m["location"],
                                              None, None))
    _by_id(memberships)

    # opportunities ----------------------------------------------------------------
    n_opp = max(5, round(scale / 10))
    oidx = list(range(n_opp))
    on_hold = _pick_exact(rng, oidx, [SHARES["opportunities.unmapped_status"]], n_opp)[0]
    hold_status = next(s for s in statuses if s["description"] in UNMAPPED_STATUS_NAMES)
    other_statuses = [s for s in statuses if s["description"] not in UNMAPPED_STATUS_NAMES]
    weights = [30, 15, 20, 10, 15, 10]
    opportunities = []
    for i in oidx:
        status = hold_status if i in on_hold else rng.choices(other_statuses, weights)[0]
        r = rng.random()
        co = rng.choice(companies) if r < 0.85 else None
        if co is not None and r < 0.6 and members_of.get(co["_id"]):
            mem = rng.choice(members_of[co["_id"]])
        elif co is None:
            mem = rng.choice(members)
        else:
            mem = None
        opportunities.append(gen.opportunity(status, co, mem, resources, contract_plans))
    _by_id(opportunities)

    # fees -------------------------------------------------------------------------
    n_fee = max(5, round(scale / 20))
    service_plans = [p for p in plans if p["intervalLength"] == "once" and p["price"] > 0]
    fees = []
    for _ in range(n_fee):
        mem = rng.choice(members)
        co = company_by_id.get(mem["company"]) if mem["company"] else None
        fees.append(gen.fee(co, mem, mem["location"], rng.choice(service_plans)))
    _by_id(fees)

    records = {
        "locations": _by_id(locations),
        "plans": _by_id(plans),
        "opportunity-statuses": _by_id(statuses),
        "companies": companies,
        "members": members,
        "resources": resources,
        "contracts": contracts,
        "memberships": memberships,
        "opportunities": opportunities,
        "fees": fees,
    }
    return Dataset(seed=seed, scale=scale, anchor=anchor, records=records,
                   id_middle=ids.middle, id_counter=ids.counter,
                   )


# --------------------------------------------------------------------------- anomalies

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
        mid, email, name = m["_id"], m.get("email"), m.get("name")
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
                out["companies"]["shared_domain"].append(c["_id"])
            domains.add(domain)
    for p in records.get("plans", ()):
        price = p.get("price")
        if isinstance(price, int | float) and not isinstance(price, bool) and price < 0:
            out["plans"]["negative_price"].append(p["_id"])
        if has_many_decimals(price):
            out["plans"]["many_decimals"].append(p["_id"])
    for r in records.get("resources", ()):
        price = r.get("price")
        if price is not None and (isinstance(price, bool) or not isinstance(price, int | float)):
            out["resources"]["non_numeric_price"].append(r["_id"])
        if has_many_decimals(price):
            out["resources"]["many_decimals"].append(r["_id"])
    for c in records.get("contracts", ()):
        if c.get("endDate") is None:
            out["contracts"]["no_end_date"].append(c["_id"])
        elif _date_out_of_range(c.get("startDate"), c.get("endDate")):
            out["contracts"]["dates_out_of_range"].append(c["_id"])
    unmapped = {s["_id"] for s in records.get("opportunity-statuses", ())
                if s.get("description") in UNMAPPED_STATUS_NAMES}
    for o in records.get("opportunities", ()):
        if o.get("status") in unmapped:
            out["opportunities"]["unmapped_status"].append(o["_id"])
    return out
