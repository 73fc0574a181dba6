"""Running the planned checks as one Great Expectations suite, and the run's Data Docs.

Each call uses its own ephemeral GX context with unique names, so several runs in one
process do not clash; GX is imported only when a suite runs (never at DAG parse time).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from hubspot_sync.validation.plan import Check


def safe_name(text: str) -> str:
    """A run id as a folder name:
    ``manual__2024-01-01T00:00:00+00:00`` -> ``manual__2024-01-01T00_00_00_00_00``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "run"


def _build_expectation(gxe: Any, check: Check, index: int, entity: str) -> Any:
    cls = getattr(gxe, check.expectation, None)
    if cls is None or not isinstance(cls, type):
        raise ValueError(f"mapping {entity}: expectations: {check.rule!r} is not a Great "
                         f"Expectations expectation (no class {check.expectation})")
    try:
        return cls(**check.kwargs, meta={"check": index, "rule": check.rule,
                                         "property": check.property})
    except Exception as exc:  # pydantic errors from GX name the bad argument
        raise ValueError(f"mapping {entity}: expectation {check.rule} on {check.column}: "
                         f"invalid arguments {check.kwargs!r}: {exc}") from exc


def run_suite(work: pd.DataFrame, checks: list[Check], entity: str, run_id: str,
            docs_dir: Path | None, with_row: bool) -> tuple[dict[int, Any], str | None]:
    """Run the checks as one suite in a fresh ephemeral context; results by check index."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(),
                               analytics_enabled=False,
                               progress_bars=ProgressBarsConfig(globally=False))
    context = gx.get_context(mode="ephemeral", project_config=config)
    tag = f"{entity}_{safe_name(run_id)}_{uuid.uuid4().hex[:8]}"
    expectations = [_build_expectation(gxe, check, i, entity) for i, check in enumerate(checks)]
    batch = (context.data_sources.add_pandas(name=f"{entity}_rows_{tag}")
             .add_dataframe_asset(name=f"{entity}_to_write")
             .add_batch_definition_whole_dataframe(f"{entity}_batch"))
    suite = context.suites.add(gx.ExpectationSuite(name=f"{entity}_generated_suite",
                                                   expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{entity}_validation_{tag}", data=batch, suite=suite))
    actions: list[Any] = []  # GX's ValidationAction union; UpdateDataDocsAction is one
    docs_path: str | None = None
    if docs_dir is not None:
        site_dir = (Path(docs_dir) / entity / safe_name(run_id)).resolve()
        site_dir.mkdir(parents=True, exist_ok=True)
        site = f"local_{tag}"
        context.add_data_docs_site(site_name=site, site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(site_dir)},
        })
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[site]))
        docs_path = str(site_dir / "index.html")
    index_columns = ["source_id", "__row"] if with_row else ["source_id"]
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"{entity}_checkpoint_{tag}", validation_definitions=[definition], actions=actions,
        result_format={"result_format": "COMPLETE",
                       "unexpected_index_column_names": index_columns,
                       "return_unexpected_index_query": False}))
    outcome = checkpoint.run(batch_parameters={"dataframe": work})
    (validation,) = outcome.run_results.values()
    results: dict[int, Any] = {}
    for result in validation.results:
        info = result.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values())
        expectation = result.expectation_config
        if expectation is None:  # GX attaches the configuration to every result it returns
            raise RuntimeError(f"validate {entity}: GX returned a result without its expectation")
        index = int(expectation.meta["check"])
        if raised:
            messages = [info.get("exception_message")] + [
                v.get("exception_message") for v in info.values() if isinstance(v, dict)]
            message = "; ".join(m for m in messages if m)
            raise RuntimeError(f"validate {entity}: expectation {checks[index].expectation} on "
                               f"{checks[index].column} could not run: {message}")
        results[index] = result
    if docs_path is not None and not Path(docs_path).exists():
        docs_path = None
    return results, docs_path


def brief(result: dict[str, Any]) -> str:
    observed = result.get("observed_value")
    return f"observed {observed!r}" if observed is not None else "failed"
