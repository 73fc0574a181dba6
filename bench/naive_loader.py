"""The loader a HubSpot user writes first, with the official ``hubspot-api-client`` (v12).

Every run: read every OfficeRnD company and member, map the fields by hand, batch-upsert
every record (``batch_api.upsert`` with ``idProperty=officernd_id``, 100 a call, one call at
a time), then associate every member's contact with its company's (associations v4
``create_default``, 100 a call). No diffing, no warehouse: the same calls every hour,
changed or not. Retries are urllib3's ``Retry`` on 429 (and 5xx) as the SDK's README shows,
with ``allowed_methods=None`` because every batch endpoint is a POST, which urllib3 does
not retry otherwise. A batch HubSpot refuses as a whole is counted and skipped.

The OfficeRnD side is read with the library's own source (the same reads as the sync), so
the comparison is about HubSpot: calls and the time spent waiting on them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

BATCH = 100
GROUP = {"companies": "companyinformation", "contacts": "contactinformation"}


@dataclass
class NaiveResult:
    calls: int = 0  # API calls made (each SDK call; urllib3's retries are not seen here)
    hubspot_seconds: float = 0.0  # time inside SDK calls (serial: time waiting on HubSpot)
    seconds: float = 0.0  # the whole run, OfficeRnD reads included
    records: dict[str, int] = field(default_factory=dict)  # upserted per object
    errors: int = 0  # inputs HubSpot refused (per-input errors and refused batches)
    associated: int = 0


def domain_of(url: str | None) -> str | None:
    """``https://www.example.com/about`` -> ``example.com``."""
    if not url:
        return None
    host = urlparse(url if "//" in url else f"//{url}").hostname or ""
    return host.removeprefix("www.") or None


def company_properties(company: dict[str, Any]) -> dict[str, str]:
    address = company.get("address") or {}
    props = {"officernd_id": company["_id"], "name": company.get("name"),
             "domain": domain_of(company.get("url")), "website": company.get("url"),
             "phone": company.get("phone"), "city": address.get("city"),
             "country": address.get("country"), "officernd_status": company.get("status")}
    return {k: str(v) for k, v in props.items() if v not in (None, "")}


def contact_properties(member: dict[str, Any]) -> dict[str, str]:
    first, _, last = (member.get("name") or "").strip().partition(" ")
    address = member.get("address") or {}
    props = {"officernd_id": member["_id"], "email": member.get("email"), "firstname": first,
             "lastname": last, "phone": member.get("phone"), "city": address.get("city"),
             "officernd_status": member.get("status")}
    return {k: str(v) for k, v in props.items() if v not in (None, "")}


def chunks(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def client_for(base_url: str, token: str) -> Any:
    """The SDK client on ``base_url`` with the README's urllib3 retry on 429."""
    from hubspot import HubSpot
    from urllib3.util.retry import Retry

    retry = Retry(total=6, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=None, respect_retry_after_header=True)
    return HubSpot(access_token=token, retry=retry, host=base_url.rstrip("/"))


class NaiveLoader:
    def __init__(self, base_url: str, token: str) -> None:
        client = client_for(base_url, token)
        # Built once: each attribute access of the SDK builds a new API client and pool.
        self.companies = client.crm.companies.batch_api
        self.contacts = client.crm.contacts.batch_api
        self.associations = client.crm.associations.v4.batch_api

    def _call(self, result: NaiveResult, fn: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            result.calls += 1
            result.hubspot_seconds += time.perf_counter() - started

    def _upsert(self, result: NaiveResult, api: Any, rows: list[dict[str, str]],
                model: Any, batch_model: Any) -> dict[str, str]:
        """officernd_id -> HubSpot id of every record HubSpot took."""
        from hubspot.crm.contacts.exceptions import ApiException

        ids: dict[str, str] = {}
        for chunk in chunks(rows):
            body = batch_model(inputs=[model(id_property="officernd_id", id=r["officernd_id"],
                                             properties=r) for r in chunk])
            try:
                answer = self._call(result, api.upsert, body)
            except ApiException:  # the whole batch refused: a first loader logs and goes on
                result.errors += len(chunk)
                continue
            result.errors += len(getattr(answer, "errors", None) or [])
            for record in answer.results:
                ids[str((record.properties or {}).get("officernd_id"))] = str(record.id)
        return ids

    def run(self, companies: Iterable[dict[str, Any]],
            members: Iterable[dict[str, Any]]) -> NaiveResult:
        from hubspot.crm.associations.v4 import (
            BatchInputPublicDefaultAssociationMultiPost,
            PublicDefaultAssociationMultiPost,
        )
        from hubspot.crm.associations.v4.models import PublicObjectId
        from hubspot.crm.companies import (
            BatchInputSimplePublicObjectBatchInputUpsert as CompanyBatch,
        )
        from hubspot.crm.companies import SimplePublicObjectBatchInputUpsert as CompanyInput
        from hubspot.crm.contacts import (
            BatchInputSimplePublicObjectBatchInputUpsert as ContactBatch,
        )
        from hubspot.crm.contacts import SimplePublicObjectBatchInputUpsert as ContactInput

        result = NaiveResult()
        started = time.perf_counter()
        company_rows = [company_properties(c) for c in companies]
        member_list = list(members)
        company_ids = self._upsert(result, self.companies, company_rows, CompanyInput,
                                   CompanyBatch)
        contact_ids = self._upsert(result, self.contacts,
                                   [contact_properties(m) for m in member_list],
                                   ContactInput, ContactBatch)
        result.records = {"companies": len(company_rows), "contacts": len(member_list)}
        pairs = [(contact_ids[m["_id"]], company_ids[str(m["company"])]) for m in member_list
                 if m["_id"] in contact_ids and str(m.get("company")) in company_ids]
        for chunk in chunks(pairs):
            body = BatchInputPublicDefaultAssociationMultiPost(inputs=[
                PublicDefaultAssociationMultiPost(_from=PublicObjectId(id=a),
                                                  to=PublicObjectId(id=b)) for a, b in chunk])
            self._call(result, self.associations.create_default, "contacts", "companies", body)
            result.associated += len(chunk)
        result.seconds = time.perf_counter() - started
        return result


def read_officernd(source: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every company and member (no change window: the naive loader reads everything)."""
    return list(source.extract("companies")), list(source.extract("members"))


def prepare_portal(state: Any) -> None:
    """The custom properties a user creates once by hand in HubSpot's settings."""
    for obj in ("companies", "contacts"):
        for name, unique in (("officernd_id", True), ("officernd_status", False)):
            state.create_property(obj, {"name": name, "label": name, "type": "string",
                                        "fieldType": "text", "groupName": GROUP[obj],
                                        "hasUniqueValue": unique})
