"""Writing to OfficeRnD Flex API v2: the reverse direction's one way in.

``PUT /api/v2/organizations/{slug}/{resource}/{id}`` changes only the fields it is sent
(so the caller sends only the changed ones; a nested object such as ``address`` is
replaced whole, so the caller merges it with the record's current one), ``POST
/api/v2/organizations/{slug}/{resource}`` creates. Scopes ``flex.<module>.<resource>.
{create,update}`` (docs/officernd-sandbox.md, Writes).

The writer is built only by the reverse steps, so a sync with no reverse mapping never
asks for a write scope. It asks for its own token, naming every scope it needs (the
write scopes plus the read scopes of the resources it touches): the token cache is keyed
by the scopes, so it never receives the reader's read-only token, and the reader never
holds a write token.

Every request goes through the source's counted session and retrier (429 waits for
``Retry-After``, 5xx and network errors back off). A create is made idempotent by the
caller's ``dedupe`` key, a custom property (``properties.hubspot_deal_id``) the created
record carries: before each attempt the writer looks for a record that has it, so a
create whose answer was lost is found, not made twice. OfficeRnD's refusal of one
record (400 with its reason, 404, 403, 409, 422) is that record's :class:`WriteResult`,
never an exception: one bad record does not stop the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from hubspot_sync.sources.base import SourceError
from hubspot_sync.sources.officernd.authenticator import OfficeRnDAuthenticator
from hubspot_sync.sources.officernd.http import message, transport_error
from hubspot_sync.sources.officernd.paginator import CursorPaginator, page_records
from hubspot_sync.sources.officernd.stream import OfficeRnDSource
from hubspot_sync.transport import Retry, TransportError, json_body

#: The scope prefix of each writable resource (``<prefix>.create``, ``.update``, ``.read``).
SCOPE_PREFIX = {
    "members": "flex.community.members",
    "companies": "flex.community.companies",
    "opportunities": "flex.community.opportunities",
}
#: Statuses that refuse one record (not the run): recorded per record with the reason.
REFUSALS = frozenset({400, 403, 404, 409, 422})


def write_scopes(resources: Iterable[str]) -> str:
    """The scopes a writer of ``resources`` asks for: read, create and update of each."""
    scopes: dict[str, None] = {}
    for resource in sorted(set(resources)):
        prefix = SCOPE_PREFIX.get(resource)
        if prefix is None:
            raise ValueError(f"the sync does not write OfficeRnD {resource!r}")
        for action in ("read", "create", "update"):
            scopes[f"{prefix}.{action}"] = None
    return " ".join(scopes)


@dataclass(frozen=True)
class WriteResult:
    """One record's outcome: ``record`` (OfficeRnD's answer) when written, else the
    status and reason of the refusal. ``found``: a create that found the record an
    earlier, unanswered attempt had made."""

    ok: bool
    record: dict[str, Any] | None = None
    status: int = 0
    reason: str = ""
    found: bool = False


class OfficeRnDWriter:
    """PUT / POST on the resources of ``source``'s connection, with a write token."""

    def __init__(self, source: OfficeRnDSource, resources: Iterable[str]) -> None:
        self.source = source
        self.http = source.http  # the same counted session and retrier
        self.scopes = write_scopes(resources)
        self.auth = OfficeRnDAuthenticator(self.http, self._config, source.auth.shared)

    def _config(self) -> dict[str, str]:
        return {**self.source._config(), "scopes": self.scopes}

    @property
    def write_calls(self) -> int:
        """PUT and POST requests sent to the API (token requests excluded)."""
        return sum(n for (method, route), n in self.http.calls.items()
                   if method in ("PUT", "POST") and route != "/oauth/token")

    # ------------------------------------------------------------------ requests
    def _send(self, method: str, path: str, route: str, n: int, *, json: Any = None,
              params: dict[str, Any] | None = None) -> requests.Response | Retry:
        """One attempt with the write token (a 401 refreshes it once)."""
        url = f"{self._config()['api_base']}{path}"
        token = self.auth.token()
        got = self.http.attempt(method, url, (method, route), n, params=params, json=json,
                                token=token)
        if isinstance(got, requests.Response) and got.status_code == 401:
            token = self.auth.token(stale=token)
            got = self.http.attempt(method, url, (method, route), n, params=params, json=json,
                                    token=token)
        return got

    def _run(self, attempt: Any, what: str, route: str) -> requests.Response:
        try:
            response = self.http.retrier.run(attempt, what)
        except TransportError as exc:
            raise transport_error(exc, route) from exc
        assert isinstance(response, requests.Response)
        return response

    @staticmethod
    def _result(response: requests.Response, route: str) -> WriteResult:
        status = response.status_code
        if status in REFUSALS:
            return WriteResult(False, status=status, reason=f"OfficeRnD refused it (HTTP "
                                                            f"{status}): {message(response)}")
        if status >= 400:
            raise SourceError(status, message(response), route=route)
        try:
            body = json_body(response)
        except ValueError as exc:
            return WriteResult(False, status=status,
                               reason=f"OfficeRnD's answer was unreadable ({exc}); the next "
                                      "run compares the record again")
        return WriteResult(True, body if isinstance(body, dict) else None, status)

    # ------------------------------------------------------------------ writes
    def update(self, resource: str, record_id: str, fields: Mapping[str, Any]) -> WriteResult:
        """PUT only ``fields`` on one record."""
        route = f"/{resource}/{{id}}"

        def attempt(n: int) -> requests.Response | Retry:
            return self._send("PUT", f"/{resource}/{record_id}", route, n, json=dict(fields))

        return self._result(self._run(attempt, f"OfficeRnD PUT {route}", route), route)

    def create(self, resource: str, body: Mapping[str, Any],
               dedupe: tuple[str, str] | None = None) -> WriteResult:
        """POST one record. With ``dedupe`` (a custom property and its value, which
        ``body['properties']`` must carry) a record that already has it is returned
        instead, looked up before every attempt (a lost answer is never a duplicate)."""
        route = f"/{resource}"

        def attempt(n: int) -> requests.Response | Retry | WriteResult:
            if dedupe is not None:
                existing = self.find_by_property(resource, *dedupe)
                if existing is not None:
                    return WriteResult(True, existing, 200, found=True)
            return self._send("POST", route, route, n, json=dict(body))

        try:
            got = self.http.retrier.run(attempt, f"OfficeRnD POST {route}")
        except TransportError as exc:
            raise transport_error(exc, route) from exc
        if isinstance(got, WriteResult):
            return got
        assert isinstance(got, requests.Response)
        return self._result(got, route)

    def find_by_property(self, resource: str, name: str, value: str) -> dict[str, Any] | None:
        """The record whose custom property ``name`` is ``value`` (OfficeRnD's
        ``properties[<name>]=`` filter, each result checked here too)."""
        route = f"/{resource}"
        paginator = CursorPaginator(f"OfficeRnD GET {route} by properties.{name}")
        while not paginator.finished:
            params = paginator.params({f"properties[{name}]": value})

            def attempt(n: int, params: dict[str, Any] = params) -> requests.Response | Retry:
                return self._send("GET", route, route, n, params=params)

            response = self._run(attempt, f"OfficeRnD GET {route}", route)
            if response.status_code >= 400:
                raise SourceError(response.status_code, message(response), route=route)
            body = json_body(response)
            for record in page_records(body):
                if isinstance(record, dict) and \
                        str((record.get("properties") or {}).get(name)) == str(value):
                    return record
            paginator.advance(body)
        return None
