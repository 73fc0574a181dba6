"""Deal pipelines (``/crm/v3/pipelines/{objectType}``): HubSpot's default sales pipeline,
read-only here."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.hubspot import schema
from sandbox.hubspot.models.core import StateCore
from sandbox.hubspot.models.errors import HubSpotError
from sandbox.hubspot.models.values import fmt_ms


@dataclass
class Pipeline:
    id: str
    label: str
    stages: list[dict]
    created: int
    display_order: int = 0


class PipelinesMixin(StateCore):
    """The pipelines of deals (other object types have none)."""

    pipelines: dict[str, Pipeline]

    def _init_pipelines(self, t: int) -> None:
        self.pipelines = {
            schema.DEFAULT_PIPELINE_ID: Pipeline(
                schema.DEFAULT_PIPELINE_ID, schema.DEFAULT_PIPELINE_LABEL,
                [{"id": sid, "label": label, "displayOrder": i,
                  "metadata": {"isClosed": "true" if sid.startswith("closed") else "false",
                               "probability": prob}}
                 for i, (sid, label, prob) in enumerate(schema.DEFAULT_DEAL_STAGES)], t)}

    def _pipeline_json(self, p: Pipeline) -> dict:
        ts = fmt_ms(p.created)
        return {"id": p.id, "label": p.label, "displayOrder": p.display_order,
                "stages": [{**s, "createdAt": ts, "updatedAt": ts, "archived": False,
                            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
                           for s in p.stages],
                "createdAt": ts, "updatedAt": ts, "archived": False}

    def list_pipelines(self, otype: str) -> dict:
        otype = self.resolve_type(otype)
        if otype != "deals":
            return {"results": []}
        return {"results": [self._pipeline_json(p) for p in self.pipelines.values()]}

    def get_pipeline(self, otype: str, pipeline_id: str) -> dict:
        otype = self.resolve_type(otype)
        p = self.pipelines.get(pipeline_id) if otype == "deals" else None
        if p is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND",
                               f"Unable to find pipeline {pipeline_id}",
                               context={"pipelineId": [pipeline_id]})
        return self._pipeline_json(p)
