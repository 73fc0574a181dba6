"""The HubSpot CRM model: one portal's records, properties, pipelines and associations.

Pure Python, no HTTP. Methods take and return the JSON-shaped dicts HubSpot uses and
raise :class:`HubSpotError` (a ``sandbox._errors.ServiceError``) for errors; ``api.py``
only translates. Batch methods return ``(status_code, body)`` because HubSpot answers
200, 201 or 207 depending on the outcome.

``HubSpotState`` composes one part per concern, each in ``sandbox/hubspot/models/``:

- ``records.py``      records, indexes, validated writes, lookups, rendering
- ``objects.py``      single-object calls (list, read, create, update, archive, merge)
- ``batches.py``      batch calls on objects (``batch_io.py``: their shared wire shape)
- ``search.py``       search
- ``properties.py``   property definitions and groups
- ``associations.py`` associations (v4, and v3 create / rendering)
- ``pipelines.py``    deal pipelines
- ``persistence.py``  the SQLite store for ``--state FILE``
- ``errors.py``       HubSpot's error bodies; ``values.py`` value formats and checks
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sandbox.hubspot.models.batch_io import MAX_BATCH
from sandbox.hubspot.models.batches import BatchesMixin
from sandbox.hubspot.models.errors import (
    HubSpotError,
    PropertyValuesError,
    not_found,
    validation_error,
)
from sandbox.hubspot.models.objects import ObjectsMixin
from sandbox.hubspot.models.pipelines import Pipeline
from sandbox.hubspot.models.properties import PropertyDef
from sandbox.hubspot.models.records import ObjectStore, Record
from sandbox.hubspot.models.search import SearchMixin
from sandbox.hubspot.models.values import now_ms

__all__ = ["HubSpotState", "HubSpotError", "PropertyValuesError", "validation_error",
           "not_found", "PropertyDef", "Record", "ObjectStore", "Pipeline", "MAX_BATCH"]


class HubSpotState(ObjectsMixin, BatchesMixin, SearchMixin):
    """One HubSpot portal: everything the sandbox serves, behind one re-entrant lock."""

    def __init__(self, search_lag_ms: int = 0) -> None:
        self.search_lag_ms = search_lag_ms
        self.lock = threading.RLock()
        self.on_change: Callable[[], None] | None = None
        self._init()

    def _init(self) -> None:
        t = now_ms()
        self._init_records()
        self._init_properties(t)
        self._init_pipelines(t)
        self._init_associations()
        self._init_tracking()

    def reset(self) -> None:
        with self.lock:
            self._init()
            self.cleared = True
            self._changed()
