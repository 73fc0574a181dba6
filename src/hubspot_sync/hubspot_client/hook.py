"""HubSpotHook: the CRM v3/v4 calls the sync needs, composed from one module per concern
on the shared :class:`~hubspot_sync.hubspot_client.session.HubSpotSession` transport."""

from __future__ import annotations

from hubspot_sync.hubspot_client.associations import Associations
from hubspot_sync.hubspot_client.changes import ObjectChanges
from hubspot_sync.hubspot_client.reads import ObjectReads
from hubspot_sync.hubspot_client.schema import Schema
from hubspot_sync.hubspot_client.writes import ObjectWrites


class HubSpotHook(ObjectChanges, ObjectReads, ObjectWrites, Schema, Associations):
    """HubSpot CRM API client on the ``hubspot_default`` HTTP connection (see
    :class:`~hubspot_sync.hubspot_client.session.HubSpotSession` for the parameters)."""

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's "Test" button: read the contact property list with the token."""
        try:
            count = len(self.get_properties("contacts"))
        except Exception as exc:  # any failure is the answer the UI shows
            return False, str(exc)
        return True, f"HubSpot answered: {count} contact properties"
