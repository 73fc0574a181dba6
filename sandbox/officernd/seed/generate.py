"""``generate(seed, scale, anchor)``: the whole seed data set, deterministic and messy."""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from sandbox.officernd.seed.anomalies import detect_anomalies, url_domain
from sandbox.officernd.seed.builders import RecordBuilder
from sandbox.officernd.seed.ids import IdFactory
from sandbox.officernd.seed.vocabulary import (
    CITIES,
    GLOBAL_PLANS,
    LOCAL_PLANS,
    MANY_DECIMAL_PLANS,
    MANY_DECIMAL_RESOURCE_SHARE,
    MANY_DECIMAL_VALUES,
    NO_PROPERTIES,
    OPPORTUNITY_STATUSES,
    SHARES,
    UNMAPPED_STATUS_NAMES,
)
from sandbox.officernd.times import to_ms


def _pick_exact(rng: random.Random, pool: list[int], shares: list[float],
                n: int) -> list[set[int]]:
    """Disjoint subsets of ``pool`` with exactly round(share * n) members each."""
    pool = list(pool)
    rng.shuffle(pool)
    out, start = [], 0
    for share in shares:
        k = min(round(share * n), len(pool) - start)
        out.append(set(pool[start:start + k]))
        start += k
    return out


def _by_id(rows: list[dict]) -> list[dict]:
    rows.sort(key=lambda r: r["_id"])
    return rows


@dataclass
class Dataset:
    seed: int
    scale: int
    anchor: datetime
    records: dict[str, list[dict]]
    id_middle: str
    id_counter: int

    def anomalies(self) -> dict[str, dict[str, list[str]]]:
        return detect_anomalies(self.records)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.records.items()}


def generate(seed: int = 42, scale: int = 500, anchor: datetime | None = None) -> Dataset:
    """Build the seed data set: ``scale`` members, other entities scaled from it."""
    if scale < 1:
        raise ValueError("scale must be >= 1")
    if anchor is None:
        anchor = datetime.now(UTC)
    elif anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    anchor = anchor.astimezone(UTC).replace(microsecond=anchor.microsecond // 1000 * 1000)
    enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small dicts: the cyclic GC only costs time here
    try:
        return _Seeder(seed, scale, anchor).run()
    finally:
        if enabled:
            gc.enable()


class _Seeder:
    """One generation run. Steps run in a fixed order: each draws from the one seeded RNG,
    so reordering steps (or draws inside one) changes every later record."""

    def __init__(self, seed: int, scale: int, anchor: datetime) -> None:
        self.seed, self.scale, self.anchor = seed, scale, anchor
        self.rng = random.Random(seed)
        self.ids = IdFactory(self.rng)
        self.gen = RecordBuilder(self.rng, self.ids, anchor)
        self.old_ms = to_ms(anchor) - 400 * 86_400_000  # ids of records without createdAt

    def run(self) -> Dataset:
        locations = self.locations()
        statuses = [{"properties": NO_PROPERTIES, "_id": self.ids.new(self.old_ms),
                     "description": d, "probability": p, "isSystem": s}
                    for d, p, s in OPPORTUNITY_STATUSES]
        plans = self.plans(locations)
        companies = self.companies()
        members = self.members(companies)
        resources = self.resources(locations)
        contracts = self.contracts(companies)
        memberships = self.memberships(plans, members, companies, contracts)
        opportunities = self.opportunities(statuses, companies, members, resources)
        fees = self.fees(plans, members, companies)
        payments = self.payments(companies, fees)  # last: earlier records keep their draws
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
            "payments": payments,
        }
        return Dataset(seed=self.seed, scale=self.scale, anchor=self.anchor, records=records,
                       id_middle=self.ids.middle, id_counter=self.ids.counter)

    def locations(self) -> list[dict]:
        rng = self.rng
        n_loc = rng.randint(3, 6)
        self.cities = rng.sample(CITIES, n_loc)
        locations = []
        for city in self.cities:
            name, code, tz, country, town, street, zip_code = city
            locations.append({
                "properties": NO_PROPERTIES, "_id": self.ids.new(self.old_ms), "name": name,
                "code": code, "timezone": tz, "isOpen": True, "isPublic": True, "image": None,
                "address": {"country": country, "state": None, "city": town, "street": street,
                            "zip": zip_code},
                "targetRevenuePerPeriod": [],
            })
        locations[-1]["isOpen"] = n_loc < 4  # one location closed when there are many
        self.loc_ids = [loc["_id"] for loc in locations]
        self.loc_by_id = dict(zip(self.loc_ids, self.cities, strict=True))
        return locations

    def plans(self, locations: list[dict]) -> list[dict]:
        plan_specs = [(n, c, t, il, ic, p, None) for n, c, t, il, ic, p in GLOBAL_PLANS]
        for loc, city in zip(locations, self.cities, strict=True):
            plan_specs += [(f"{n} - {city[0]}", f"{c}-{city[1]}", t, il, ic, p, loc["_id"])
                           for n, c, t, il, ic, p in LOCAL_PLANS]
        plans = []
        for name, code, ptype, il, ic, price, loc_id in plan_specs:
            every = "one-off" if il == "once" else f"every {ic} month(s)"
            plans.append({
                "properties": NO_PROPERTIES, "_id": self.ids.new(self.old_ms), "name": name,
                "description": f"{name} ({every})",
                "code": code, "type": ptype, "price": price, "deposit": 0, "depositPercent": 0,
                "useDepositPercent": False,
                "locations": [loc_id] if loc_id else list(self.loc_ids),
                "intervalLength": il, "intervalCount": ic, "revenueAccount": None,
                "shouldProrate": il == "month", "requiresApproval": False,
            })
        for plan in plans:
            if plan["code"] == "CRED-L":
                plan["price"] = -50.0
            elif plan["code"] == "CRED-R":
                plan["price"] = -25.0
        regular = [p for p in plans if p["price"] > 0]
        for plan, value in zip(self.rng.sample(regular, MANY_DECIMAL_PLANS), MANY_DECIMAL_VALUES,
                               strict=False):
            plan["price"] = value
        self.contract_plans = [p for p in plans if p["intervalLength"] == "month"]
        return plans

    def companies(self) -> list[dict]:
        rng, gen, loc_by_id = self.rng, self.gen, self.loc_by_id
        n_co = max(1, round(self.scale / 5))
        companies = [gen.company(rng.choice(self.loc_ids), rng.choice(self.cities))
                     for _ in range(n_co)]
        _by_id(companies)
        shared = _pick_exact(rng, list(range(1, n_co)), [SHARES["companies.shared_domain"]],
                             n_co)[0]
        for i in sorted(shared):
            src = companies[rng.randrange(0, i)]
            while url_domain(src["url"]) is None:
                src = companies[rng.randrange(0, i)]
            # a later company (by _id) on an earlier company's domain
            replacement = gen.company(companies[i]["location"],
                                      loc_by_id[companies[i]["location"]],
                                      shared_domain_with=url_domain(src["url"]))
            replacement["_id"] = companies[i]["_id"]
            replacement["createdAt"], replacement["modifiedAt"] = (companies[i]["createdAt"],
                                                                   companies[i]["modifiedAt"])
            companies[i] = replacement
        # address/location coherence, cheaply: the location drives the address
        for co in companies:
            co["address"] = gen.address(loc_by_id[co["location"]])
        return companies

    def members(self, companies: list[dict]) -> list[dict]:
        rng, n_co, n_mem = self.rng, len(companies), self.scale
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
                       SHARES["members.cjk_name"], SHARES["members.ascii_single_word_name"]],
            n_mem)
        members = []
        for i in idx:
            kind = ("unicode" if i in uni else "cjk" if i in cjk
                    else "single" if i in single else "plain")
            co = owner.get(i)
            loc_id = co["location"] if co else rng.choice(self.loc_ids)
            members.append(self.gen.member(loc_id, self.loc_by_id[loc_id], co, kind))
        _by_id(members)
        self._mess_up_contacts(members, idx)
        # billing / contact persons: first member of each company
        self.contact_of: dict[str, dict] = {}
        self.members_of: dict[str, list[dict]] = {}
        for m in members:
            if m["company"]:
                self.members_of.setdefault(m["company"], []).append(m)
                if m["company"] not in self.contact_of:
                    self.contact_of[m["company"]] = m
                    m["isBillingPerson"] = m["isContactPerson"] = True
        return members

    def _mess_up_contacts(self, members: list[dict], idx: list[int]) -> None:
        """Messy emails and phones, on ``_id``-ordered positions."""
        rng, n_mem = self.rng, len(members)
        invalid, missing, dup, unnorm = _pick_exact(
            rng, idx, [SHARES["members.invalid_email"], SHARES["members.missing_email"],
                       SHARES["members.duplicate_email"], SHARES["members.unnormalised_email"]],
            n_mem)
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

    def resources(self, locations: list[dict]) -> list[dict]:
        rng, n_loc = self.rng, len(locations)
        n_res = max(10, round(self.scale / 10))
        ridx = list(range(n_res))
        decimals, _ = _pick_exact(rng, ridx, [MANY_DECIMAL_RESOURCE_SHARE, 0], n_res)
        tbd = {rng.choice([i for i in ridx if i not in decimals])}
        resources = []
        for i in ridx:
            loc = locations[i % n_loc]
            kind = "tbd" if i in tbd else "decimals" if i in decimals else "plain"
            resources.append(self.gen.resource(loc["_id"], loc["code"], i // n_loc + 1, kind))
        return _by_id(resources)

    def contracts(self, companies: list[dict]) -> list[dict]:
        rng = self.rng
        parties: list[tuple[dict, dict | None]] = []
        for co in companies:
            for _ in range(2 if rng.random() < 0.15 else 1):
                parties.append((co, self.contact_of.get(co["_id"])))
        n_con = len(parties)
        no_end, out_of_range = _pick_exact(
            rng, list(range(n_con)), [SHARES["contracts.no_end_date"],
                                      SHARES["contracts.dates_out_of_range"]], n_con)
        contracts = []
        for i, (co, mem) in enumerate(parties):
            if mem is not None and rng.random() < 0.3:
                mem = rng.choice(self.members_of[co["_id"]])
            kind = "no_end" if i in no_end else "out_of_range" if i in out_of_range else "plain"
            contracts.append(self.gen.contract(0, co, mem, co["location"], self.contract_plans,
                                               kind))
        _by_id(contracts)
        for num, con in enumerate(contracts, start=1):
            con["number"] = f"CON-{num}"
        return contracts

    def memberships(self, plans: list[dict], members: list[dict], companies: list[dict],
                    contracts: list[dict]) -> list[dict]:
        plan_by_id = {p["_id"]: p for p in plans}
        member_by_id = {m["_id"]: m for m in members}
        company_by_id = {c["_id"]: c for c in companies}
        memberships = []
        for con in contracts:
            if con["status"] not in ("signed", "terminated"):
                continue
            for entry in con["plans"]:
                memberships.append(self.gen.membership(
                    plan_by_id[entry["id"]], company_by_id.get(con["company"]),
                    member_by_id.get(con["member"]), con["location"], con, entry))
        personal_plans = [p for p in plans
                          if p["type"] == "hotdesk" and p["intervalLength"] == "month"]
        for m in members:
            if m["company"] is None and m["status"] == "active" and self.rng.random() < 0.5:
                memberships.append(self.gen.membership(self.rng.choice(personal_plans), None, m,
                                                       m["location"], None, None))
        return _by_id(memberships)

    def opportunities(self, statuses: list[dict], companies: list[dict], members: list[dict],
                      resources: list[dict]) -> list[dict]:
        rng = self.rng
        n_opp = max(5, round(self.scale / 10))
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
            if co is not None and r < 0.6 and self.members_of.get(co["_id"]):
                mem = rng.choice(self.members_of[co["_id"]])
            elif co is None:
                mem = rng.choice(members)
            else:
                mem = None
            opportunities.append(self.gen.opportunity(status, co, mem, resources,
                                                      self.contract_plans))
        return _by_id(opportunities)

    def payments(self, companies: list[dict], fees: dict[str, dict] | list[dict]) -> list[dict]:
        """Billing documents (invoices, a few credit notes) of companies: n/20 (min 5)."""
        rng = self.rng
        fee_list = list(fees.values()) if isinstance(fees, dict) else list(fees)
        fees_of: dict[str, list[dict]] = {}
        for fee in fee_list:
            if fee.get("company"):
                fees_of.setdefault(fee["company"], []).append(fee)
        payments = []
        for k in range(1, max(5, round(self.scale / 20)) + 1):
            company = rng.choice(companies)
            payments.append(self.gen.payment(k, company, fees_of.get(company["_id"], [])))
        return _by_id(payments)

    def fees(self, plans: list[dict], members: list[dict],
             companies: list[dict]) -> list[dict]:
        rng = self.rng
        company_by_id = {c["_id"]: c for c in companies}
        n_fee = max(5, round(self.scale / 20))
        service_plans = [p for p in plans if p["intervalLength"] == "once" and p["price"] > 0]
        fees = []
        for _ in range(n_fee):
            mem = rng.choice(members)
            co = company_by_id.get(mem["company"]) if mem["company"] else None
            fees.append(self.gen.fee(co, mem, mem["location"], rng.choice(service_plans)))
        return _by_id(fees)
