"""Two-way sync: HubSpot edits flowing back to OfficeRnD.

- :mod:`~hubspot_sync.two_way.spec`: the mapping keys (sync_mode, direction, conflict rules,
  reverse_create) and their configuration checks; pydantic only, safe at DAG parse time.
- :mod:`~hubspot_sync.two_way.resolve`: :func:`decide`, the baseline rule that makes echo and
  lost edits impossible.
- :mod:`~hubspot_sync.two_way.convert`: HubSpot values back to OfficeRnD field values.
- :mod:`~hubspot_sync.two_way.delta`: the forward delta without what flows the other way.

Nothing heavy is imported here: the mapping loader imports ``spec`` at parse time.
"""
