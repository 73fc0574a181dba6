"""Realistic changes and new records for ``State.mutate``: what users do between two syncs."""

from __future__ import annotations

import random
from datetime import datetime
from typing import TYPE_CHECKING

from sandbox.officernd.errors import ApiError
from sandbox.officernd.seed import MEMBER_STATUSES, RecordBuilder
from sandbox.officernd.times import add_months, fmt_ts, parse_ts, to_ms

if TYPE_CHECKING:
    from sandbox.officernd.state import State

class Mutator:
    """Builds realistic changes and new records for :meth:`State.mutate`."""

    def __init__(self, state: State, rng: random.Random, now: datetime) -> None:
        self.state = state
        self.rng = rng
        self.now = now
        self.gen = RecordBuilder(rng, state.ids, now)
        self._emails_loaded = False

    def _rows(self, resource: str) -> list[dict]:
        return self.state.collections[resource].regular_rows()

    def _pick(self, resource: str) -> dict | None:
        coll = self.state.collections[resource]
        ids = coll.regular_ids()
        return coll.by_id[self.rng.choice(ids)] if ids else None

    def _location(self) -> tuple[str, tuple]:
        loc = self._pick("locations")
        if loc is None:
            return "", ("", "", "UTC", "", "", "1 Main St", "")
        a = loc.get("address") or {}
        return loc["_id"], (loc.get("name"), loc.get("code"), loc.get("timezone"),
                            a.get("country"), a.get("city"), a.get("street") or "1 Main St",
                            a.get("zip"))

    def _load_emails(self) -> None:
        if not self._emails_loaded:
            self.gen.taken_emails = {m["email"] for m in self._rows("members")
                                     if isinstance(m.get("email"), str)}
            self._emails_loaded = True

    def _email(self, name: str, domain: str) -> str:
        self._load_emails()
        return self.gen.email_for(name, domain)

    def _fresh(self, rec: dict) -> dict:
        now_ms = to_ms(self.now)
        rec["_id"] = self.state.ids.new(now_ms)
        rec["createdAt"] = rec["modifiedAt"] = fmt_ts(now_ms)
        return rec

    # creates ---------------------------------------------------------------
    def create(self, resource: str) -> dict:
        rng, gen = self.rng, self.gen
        if resource == "members":
            company = self._pick("companies") if rng.random() < 0.8 else None
            loc_id, loc = self._location()
            if company is not None and company.get("location"):
                loc_id = company["location"]
            self._load_emails()
            rec = gen.member(loc_id, loc, company if company and company.get("url") else None)
            if company is not None:
                rec["company"] = company["_id"]
            return self._fresh(rec)
        if resource == "companies":
            loc_id, loc = self._location()
            return self._fresh(gen.company(loc_id, loc))
        if resource == "resources":
            loc_id, loc = self._location()
            return self._fresh(gen.resource(loc_id, loc[1] or "LOC", rng.randint(100, 999)))
        if resource == "contracts":
            company = self._pick("companies")
            members = [m for m in self._rows("members")
                       if company is not None and m.get("company") == company["_id"]]
            plans = [p for p in self._rows("plans") if p.get("intervalLength") == "month"
                     and isinstance(p.get("price"), int | float)]
            numbers = [int(c["number"][4:]) for c in self._rows("contracts")
                       if str(c.get("number", "")).startswith("CON-") and c["number"][4:].isdigit()]
            rec = gen.contract(max(numbers, default=0) + 1, company,
                               rng.choice(members) if members else None,
                               (company or {}).get("location") or self._location()[0], plans)
            return self._fresh(rec)
        if resource == "opportunities":
            statuses = self._rows("opportunity-statuses")
            company = self._pick("companies")
            rec = gen.opportunity(rng.choice(statuses), company, None,
                                  self._rows("resources")[:50], self._rows("plans"))
            return self._fresh(rec)
        if resource == "memberships":
            member = self._pick("members")
            plan = self._pick("plans")
            if member is None or plan is None:
                raise ApiError(400, "memberships need members and plans")
            rec = gen.membership(plan, None, member, member.get("location"), None, None)
            return self._fresh(rec)
        if resource == "fees":
            member = self._pick("members")
            plan = self._pick("plans")
            if member is None or plan is None:
                raise ApiError(400, "fees need members and plans")
            return self._fresh(gen.fee(None, member, member.get("location"), plan))
        if resource == "payments":
            company = self._pick("companies")
            if company is None:
                raise ApiError(400, "payments need companies")
            numbers = [int(p["number"].split("-")[1]) for p in self._rows("payments")
                       if str(p.get("number", "")).count("-") == 1
                       and p["number"].split("-")[1].isdigit()]
            rec = gen.payment(max(numbers, default=0) + 1, company, [])
            rec["status"] = "draft"
            return self._fresh(rec)
        if resource == "plans":
            n = rng.randint(100, 999)
            return {"properties": {}, "_id": self.state.ids.new(to_ms(self.now)),
                    "name": f"Promo Plan {n}", "description": None, "code": f"PROMO-{n}",
                    "type": rng.choice(("desk", "hotdesk", "service")),
                    "price": float(rng.choice((99, 149, 199))), "deposit": 0,
                    "depositPercent": 0, "useDepositPercent": False, "locations": [],
                    "intervalLength": "month", "intervalCount": 1, "revenueAccount": None,
                    "shouldProrate": True, "requiresApproval": False}
        raise ApiError(400, f"create is not supported for {resource}")

    # updates ---------------------------------------------------------------
    def update(self, resource: str, rec: dict) -> None:
        rng, gen = self.rng, self.gen
        if resource == "members":
            for what in rng.sample(("name", "email", "phone", "status"), k=rng.choice((1, 1, 2))):
                if what == "name":
                    rec["name"] = gen.person_name(rng.choice(("plain", "plain", "unicode")))
                elif what == "email":
                    domain = (rec.get("email") or "").partition("@")[2].strip() or "example.com"
                    rec["email"] = self._email(rec.get("name") or "member", domain.lower())
                elif what == "phone":
                    rec["phone"] = gen.phone() if rng.random() < 0.9 else None
                else:
                    choices = [s for s, _ in MEMBER_STATUSES if s != rec.get("status")]
                    rec["status"] = rng.choice(choices)
        elif resource == "companies":
            what = rng.choice(("name", "url", "description", "status"))
            if what == "name":
                suffix = rng.choice(("Group", "Holdings", "International", "Labs"))
                rec["name"] = f"{rec.get('name') or 'Company'} {suffix}"
            elif what == "url":
                stem = str(rec.get("name") or "co").split()[0].lower()
                rec["url"] = f"https://www.{stem}{rng.randrange(10, 10**5)}.com"
            elif what == "description":
                rec["description"] = f"Updated profile ({rng.randrange(1000)})"
            else:
                rec["status"] = rng.choice([s for s in ("active", "former", "inactive", "pending")
                                            if s != rec.get("status")])
        elif resource == "contracts":
            self._update_contract(rec)
        elif resource == "opportunities":
            what = rng.choice(("status", "dealSize", "probability"))
            if what == "status":
                statuses = [s for s in self._rows("opportunity-statuses")
                            if s["_id"] != rec.get("status")]
                if statuses:
                    st = rng.choice(statuses)
                    rec["status"], rec["probability"] = st["_id"], st.get("probability")
            elif what == "dealSize":
                rec["dealSize"] = round(rng.uniform(300, 60000), 2)
            else:
                rec["probability"] = rng.choice((10, 25, 40, 60, 75, 90))
        elif resource in ("plans", "resources"):
            if rng.random() < 0.5:
                price = rec.get("price")
                numeric = isinstance(price, int | float) and not isinstance(price, bool)
                base = price if numeric else 100.0
                rec["price"] = round(base * rng.choice((0.9, 1.05, 1.1)), 2)
            else:
                label = rng.choice(("new", "renovated", "2.0", "promo"))
                rec["name"] = f"{str(rec.get('name') or '').split(' (')[0]} ({label})"
        elif resource == "memberships":
            rec["price"] = rec["discountedPrice"] = round(rng.uniform(50, 900), 2)
        elif resource == "fees":
            rec["quantity"] = rng.randint(1, 9)
        elif resource == "payments":
            # a draft is issued; an issued invoice is paid
            rec["status"] = {"draft": "issued", "issued": "paid"}.get(rec.get("status"),
                                                                     rec.get("status"))
        elif resource == "locations":
            rec["isOpen"] = not rec.get("isOpen", True)
        elif resource == "opportunity-statuses":
            step = rng.choice((-5, 5))
            rec["probability"] = max(0, min(100, int(rec.get("probability") or 0) + step))

    def _update_contract(self, rec: dict) -> None:
        rng = self.rng
        entries = [dict(e) for e in rec.get("plans") or []]
        what = rng.choice(("end", "plans", "plans"))
        if what == "end" or not entries:
            end = rec.get("endDate")
            try:
                base = parse_ts(end) if end else parse_ts(rec["startDate"])
                rec["endDate"] = fmt_ts(add_months(base, rng.choice((6, 12))))
            except (ValueError, KeyError, TypeError):
                rec["endDate"] = fmt_ts(add_months(self.now.replace(hour=0, minute=0, second=0,
                                                                    microsecond=0), 12))
            rec["isRolling"] = False
        if entries and what == "plans":
            action = rng.choice(("count", "price", "add"))
            e = rng.choice(entries)
            if action == "count":
                e["count"] = max(1, int(e.get("count") or 1) + rng.choice((-1, 1, 2)))
            elif action == "price":
                e["price"] = round(float(e.get("price") or 0) * rng.choice((0.95, 1.05, 1.1)), 2)
                e["steps"] = [{**s, "price": e["price"]} for s in e.get("steps") or []]
            else:
                plans = [p for p in self._rows("plans") if p.get("intervalLength") == "month"
                         and isinstance(p.get("price"), int | float)]
                if plans:
                    p = rng.choice(plans)
                    entries.append({"id": p["_id"], "count": 1, "price": p["price"], "deposit": 0,
                                    "increasePriceInRolling": False,
                                    "steps": [{"price": p["price"], "discount": None,
                                               "discountedAmount": 0,
                                               "startDate": rec.get("startDate"),
                                               "endDate": rec.get("endDate")}]})
        rec["plans"] = entries
        base_total = round(sum((e.get("count") or 0) * (e.get("price") or 0) for e in entries), 2)
        rec["baseTotal"] = rec["plansTotal"] = base_total
        rec["total"] = round(base_total * 1.2, 2)
