"""Record builders shared by the seed and by sandbox mutations (creates)."""

from __future__ import annotations

import random
import unicodedata
from datetime import datetime, timedelta

from sandbox.officernd.seed.anomalies import url_domain
from sandbox.officernd.seed.ids import IdFactory
from sandbox.officernd.seed.vocabulary import (
    ADMIN_USER,
    CJK_NAMES,
    CO_SUFFIX,
    CO_WORDS_A,
    CO_WORDS_B,
    COMPANY_STATUSES,
    CONTRACT_STAGES,
    CONTRACT_STATUSES,
    FEE_NAMES,
    FIRST,
    FREE_DOMAINS,
    LAST,
    MANY_DECIMAL_VALUES,
    MEMBER_STATUSES,
    NO_PROPERTIES,
    OPPORTUNITY_TOPICS,
    PORTAL_PRIVACY,
    RESOURCE_TYPES,
    TLDS,
    UNI_FIRST,
    UNI_LAST,
)
from sandbox.officernd.times import add_months, fmt_ts, midnight, to_ms


def weighted(rng: random.Random, table: tuple[tuple[str, int], ...], k: int) -> list[str]:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table], k=k)


def ascii_letters(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum())



class RecordBuilder:
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
        parts = [ascii_letters(p).lower() for p in name.split()]
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
            return (f"({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-"
                    f"{rng.randrange(1000, 9999)}")
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
            "status": status or weighted(rng, MEMBER_STATUSES, 1)[0],
            "startDate": fmt_ts(self.day(-900, 0)),
            "isBillingPerson": False,
            "isContactPerson": False,
            "address": self.address(loc) if rng.random() < 0.5 else None,
            "billingDetails": None,
            "portalPrivacy": PORTAL_PRIVACY,
            "socialProfiles": ({"linkedin": f"https://linkedin.com/in/{ascii_letters(name).lower()}"}
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
            url = rng.choice((f"https://{domain}", f"https://www.{domain}", f"www.{domain}",
                              domain))
        self.taken_domains.add(domain)
        rec = self.base(created, modified)
        addr = self.address(loc)
        rec.update({
            "startDate": fmt_ts(self.day(-1500, 0)),
            "location": loc_id,
            "name": name,
            "description": rng.choice(
                (None, "", f"{base_name} is a {rng.choice(CO_WORDS_B).lower()} company.")),
            "email": f"hello@{domain}" if rng.random() < 0.7 else None,
            "image": None,
            "url": url,
            "phone": None,  # the API has it; the seed leaves it empty (no RNG draw)
            "address": addr,
            "status": weighted(rng, COMPANY_STATUSES, 1)[0],
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
        rtype = weighted(rng, RESOURCE_TYPES, 1)[0]
        size = {"meeting_room": rng.choice((4, 6, 8, 12)),
                "team_room": rng.randint(2, 12)}.get(rtype, 1)
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
            "name": f"{who['name']} - {rng.choice(OPPORTUNITY_TOPICS)}",
            "company": company["_id"] if company else None,
            "member": member["_id"] if member else None,
            "status": status["_id"],
            "probability": status["probability"],
            "startDate": fmt_ts(start),
            "dealSize": rng.choice((rng.randrange(5, 500) * 100,
                                    round(rng.uniform(300, 60000), 2))),
            "membersCount": rng.randint(1, 25),
            "resources": [r["_id"] for r in
                          rng.sample(resources, k=min(len(resources), rng.randint(0, 2)))],
            "requestedPlans": [p["_id"] for p in
                               rng.sample(plans, k=min(len(plans), rng.randint(0, 2)))],
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
        status = weighted(rng, CONTRACT_STATUSES, 1)[0]
        stage = {"terminated": "terminated", "canceled": "expired"}.get(status) or rng.choice(
            CONTRACT_STAGES)
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
            "type": weighted(rng, (("new", 75), ("renewal", 15), ("expansion", 10)), 1)[0],
        })
        self.audit(rec, created, modified)
        if status == "terminated":  # reference: termination {date, comments, reasonKey}
            rec["termination"] = {"date": rec["modifiedAt"], "comments": None, "reasonKey": None}
        return rec

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

    def payment(self, number: int, company: dict, fees: list[dict]) -> dict:
        """A billing document (OfficeRnD's ``payments``): an invoice (or a credit note) with
        its number, issue ``date``, ``dueDate``, ``total`` and status."""
        rng = self.rng
        created, modified = self.stamps()
        rec = self.base(created, modified)
        lines = [f for f in fees if f.get("status") == "approved"][:3]
        total = round(sum(float(f["price"]) * int(f["quantity"]) for f in lines), 2) \
            or float(rng.choice((120, 250, 480, 950, 1800)))
        credit = rng.random() < 0.1
        issued = self.day(-30, 0)
        rec.update({
            "number": f"{'CN' if credit else 'INV'}-{number:05d}",
            "documentType": "creditNote" if credit else "invoice",
            "date": fmt_ts(issued),
            "dueDate": fmt_ts(issued + timedelta(days=14)),
            "status": rng.choice(("issued", "issued", "paid", "paid", "draft")),
            "company": company["_id"],
            "member": None,
            "location": company.get("location"),
            "currency": "USD",
            "total": -total if credit else total,
            "fees": [f["_id"] for f in lines],
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

