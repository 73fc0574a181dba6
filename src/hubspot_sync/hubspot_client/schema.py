"""The portal's schema: property definitions (created when missing, never altered) and
pipelines with their stages."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hubspot_sync.hubspot_client.errors import HubSpotError, response_json
from hubspot_sync.hubspot_client.reads import unique_ids
from hubspot_sync.hubspot_client.session import (
    R_GROUPS,
    R_PIPELINES,
    R_PROPERTIES,
    HubSpotSession,
)

log = logging.getLogger(__name__)


class Schema(HubSpotSession):
    """Properties, property groups and pipelines."""

    def get_properties(self, object_type: str) -> dict[str, dict]:
        """Every property definition of an object type, by name."""
        body = response_json(self._request("GET", R_PROPERTIES, {"objectType": object_type}))
        return {p["name"]: p for p in body.get("results", []) if "name" in p}

    def create_property(self, object_type: str, definition: dict) -> dict:
        """Create one custom property (``name, label, type, fieldType, groupName``...)."""
        return response_json(self._request("POST", R_PROPERTIES, {"objectType": object_type},
                                           json=definition))

    def get_property_groups(self, object_type: str) -> dict[str, dict]:
        body = response_json(self._request("GET", R_GROUPS, {"objectType": object_type}))
        return {g["name"]: g for g in body.get("results", []) if "name" in g}

    def ensure_properties(self, object_type: str, definitions: Sequence[dict],
                          group_labels: dict[str, str] | None = None) -> list[str]:
        """Create the properties HubSpot lacks (their groups first); never alter an existing
        property, HubSpot-defined or custom. Returns the names created."""
        existing = self.get_properties(object_type)
        missing = [d for d in definitions if d["name"] not in existing]
        for d in definitions:
            current = existing.get(d["name"])
            if current and d.get("type") and current.get("type") not in (None, d["type"]):
                log.warning("HubSpot %s.%s is %s, the mapping expects %s; left unchanged",
                            object_type, d["name"], current.get("type"), d["type"])
        if not missing:
            return []
        groups = unique_ids(d.get("groupName") for d in missing)
        if groups:
            known = self.get_property_groups(object_type)
            for group in groups:
                if group in known:
                    continue
                label = (group_labels or {}).get(group) or (
                    "OfficeRnD" if group == "officernd" else group.replace("_", " ").title())
                try:
                    self._request("POST", R_GROUPS, {"objectType": object_type},
                                  json={"name": group, "label": label, "displayOrder": -1})
                except HubSpotError as exc:
                    if exc.status != 409:
                        raise
        created = []
        for definition in missing:
            try:
                self.create_property(object_type, definition)
            except HubSpotError as exc:
                if exc.status == 409:  # created meanwhile by another task
                    continue
                raise
            created.append(definition["name"])
        return created

    def get_pipelines(self, object_type: str = "deals") -> list[dict]:
        """Pipelines of an object type with their stages (``GET /crm/v3/pipelines/{type}``)."""
        body = response_json(self._request("GET", R_PIPELINES, {"objectType": object_type}))
        return body.get("results", [])
