"""Local, stateful stand-ins for the HubSpot CRM and OfficeRnD Flex APIs.

Each service is split the way moto splits its AWS emulators: a plain-Python model of
the service's state and rules (``state``), a thin HTTP layer that only translates
(``api``), and the rate limits and injected faults (``limits``). Nothing in
the library (``src/hubspot_sync``) imports this package; the pipeline only ever talks to it over HTTP.
"""
