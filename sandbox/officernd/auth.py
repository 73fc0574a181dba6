"""OAuth2 client credentials: scopes, issued Bearer tokens, authentication, authorization."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from sandbox.officernd.errors import ApiError

#: Read scope per resource (reference section 2).
RESOURCE_SCOPES = {
    "members": "flex.community.members.read",
    "companies": "flex.community.companies.read",
    "plans": "flex.billing.plans.read",
    "resources": "flex.space.resources.read",
    "locations": "flex.space.locations.read",
    "contracts": "flex.community.contracts.read",
    "memberships": "flex.community.memberships.read",
    "opportunities": "flex.community.opportunities.read",
    "opportunity-statuses": "flex.community.opportunityStatuses.read",
    "fees": "flex.community.fees.read",
    "payments": "flex.billing.payments.read",
}
#: Every read scope the sandbox grants (the ones it serves plus other documented reads).
READ_SCOPES = tuple(RESOURCE_SCOPES.values()) + (
    "flex.billing.resourceRates.read",
    "flex.space.floors.read",
    "flex.space.resourceTypes.read",
)
#: Write scopes per writable resource: (create, update) (docs/officernd-sandbox.md, Writes).
WRITE_SCOPES = {
    "members": ("flex.community.members.create", "flex.community.members.update"),
    "companies": ("flex.community.companies.create", "flex.community.companies.update"),
    "opportunities": ("flex.community.opportunities.create",
                      "flex.community.opportunities.update"),
}
ALL_WRITE_SCOPES = tuple(s for pair in WRITE_SCOPES.values() for s in pair)
TOKEN_TTL_SECONDS = 3600


@dataclass
class Token:
    scopes: frozenset[str]
    expires: float  # time.monotonic()


class Tokens:
    """The one OAuth client of a sandbox and the tokens issued to it."""

    def __init__(self, client_id: str, client_secret: str, write_access: bool = True) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        # an application with "Read-only" permission cannot get write scopes
        self.write_access = write_access
        self.issued: dict[str, Token] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str | None, client_secret: str | None,
              grant_type: str | None, scope: str | None) -> dict:
        def oauth_error(status: int, error: str, description: str) -> ApiError:
            return ApiError(status, description, error,
                            body={"error": error, "error_description": description})

        if client_id != self.client_id or client_secret != self.client_secret:
            raise oauth_error(401, "invalid_client", "Client authentication failed")
        if grant_type != "client_credentials":
            raise oauth_error(400, "unsupported_grant_type",
                              "Only grant_type=client_credentials is supported")
        requested = [s for s in (scope or "").split() if s]
        allowed = READ_SCOPES + (ALL_WRITE_SCOPES if self.write_access else ())
        unknown = [s for s in requested if s not in allowed]
        if unknown:
            kind = "application" if self.write_access else "read-only application"
            raise oauth_error(400, "invalid_scope",
                              f"Scope not granted to this {kind}: " + " ".join(unknown))
        granted = list(dict.fromkeys(requested)) or list(READ_SCOPES)
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self.issued = {k: t for k, t in self.issued.items() if t.expires > now}
            self.issued[token] = Token(frozenset(granted), now + TOKEN_TTL_SECONDS)
        return {"access_token": token, "token_type": "Bearer",
                "expires_in": TOKEN_TTL_SECONDS - 1, "scope": " ".join(granted)}

    def authenticate(self, authorization: str | None) -> Token:
        if not authorization:
            raise ApiError(401, "Missing bearer token")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "Invalid authorization header")
        tok = self.issued.get(value.strip())
        if tok is None:
            raise ApiError(401, "Invalid token")
        if tok.expires <= time.monotonic():
            raise ApiError(401, "Token expired")
        return tok

    def authorize(self, token: Token, resource: str, action: str = "read") -> None:
        """403 unless ``token`` holds the scope of ``action`` (read, create, update)."""
        if action == "read":
            scope = RESOURCE_SCOPES[resource]
        else:
            scope = WRITE_SCOPES[resource][0 if action == "create" else 1]
        if scope not in token.scopes:
            raise ApiError(403, f"Insufficient scope: {scope} required")

    def expire(self) -> int:
        """Make every issued token expired (tests of the 401 refresh path)."""
        with self._lock:
            now = time.monotonic()
            for tok in self.issued.values():
                tok.expires = now - 1
            return len(self.issued)
