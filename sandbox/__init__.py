"""Local, stateful stand-ins for the HubSpot CRM and OfficeRnD Flex APIs.

Each service is split the way moto splits its AWS emulators: a plain-Python model of the
service's state and rules (``hubspot/models/`` composed by ``hubspot/state.py``;
``officernd/state.py`` with its query, paging, mutations and store modules), a thin HTTP
layer that only translates (``api.py``, with one error handler from ``_errors.py``), and
rate limits and injected faults (``limits.py``, ``faults.py``, HubSpot's ``gate.py``).
The library (``src/hubspot_sync``) never imports this package; the pipeline only ever
talks to it over HTTP.
"""
