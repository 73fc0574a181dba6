"""HubSpotHook: the CRM v3/v4 API on top of Airflow's HTTP provider.

One hook per task. It reads the ``hubspot_default`` connection (host = base URL, password =
private-app token, sent as ``Authorization: Bearer``; the token is never logged), keeps one
``requests`` session, and offers the few calls the sync needs, each chunked to HubSpot's
limits. One module per concern:

* ``session``: connection, call counting, pacing on ``X-HubSpot-RateLimit-*``, retries
  through the shared :mod:`hubspot_sync.transport` (waits capped);
* ``reads``: list paging, batch read, search past the 10,000 cap;
* ``batches`` / ``writes``: batch upsert / update / create / archive, every input accounted
  for (written, refused, or unknown outcome), bisection only for per-input refusals;
* ``schema``: properties, groups, pipelines; ``associations``: v4 create / read / archive;
* ``errors``: HubSpotError, RowError, BatchOutcome and the mapping of error bodies.

Every HTTP request sent (retries and bisection included) is counted in ``calls``.
Only ``requests`` and the HTTP provider are imported; no pandas.
"""

from hubspot_sync.hubspot_client.errors import (
    DUPLICATE_INPUT,
    INVALID_RESPONSE,
    MISSING_RESULT,
    BatchOutcome,
    HubSpotError,
    RowError,
)
from hubspot_sync.hubspot_client.hook import HubSpotHook

__all__ = ["DUPLICATE_INPUT", "INVALID_RESPONSE", "MISSING_RESULT", "BatchOutcome",
           "HubSpotError", "HubSpotHook", "RowError"]
