"""OfficeRnD Flex API v2 as a source, split the way the Singer SDK splits a tap:
``authenticator`` (OAuth2 client credentials, a token shared by the machine's processes),
``paginator`` (``$cursorNext`` paging that stops on a repeated cursor), ``stream`` (the
:class:`~hubspot_sync.sources.base.Source`: windows, records by id) and ``http`` (one
counted session, OfficeRnD's retry rules on the shared retrier).

Connection ``officernd_default`` (type http): host = API base (``https://app.officernd.com``
or the sandbox), login = client id, password = client secret, extra
``{"org_slug": "...", "token_url": "https://identity.officernd.com/oauth/token",
"scopes": "flex.community.members.read ..."}`` (scopes optional: none asks for the app's
grants). A 401 refreshes the token once; 429 waits for ``Retry-After``; 5xx, timeouts and
connection errors back off; no wait exceeds ``SYNC_MAX_RETRY_WAIT_SECONDS``.
"""

from hubspot_sync.sources.officernd.authenticator import (
    SharedTokenFile,
    clear_token_cache,
    default_token_cache_dir,
)
from hubspot_sync.sources.officernd.stream import OfficeRnDSource

__all__ = ["OfficeRnDSource", "SharedTokenFile", "clear_token_cache", "default_token_cache_dir"]
