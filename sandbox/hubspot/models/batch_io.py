"""The wire shape every batch endpoint shares: the ``inputs`` list in, the 200 / 207
``{"status": "COMPLETE", "results", "errors"?}`` answer out."""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.models.errors import validation_error
from sandbox.hubspot.models.values import fmt_ms, now_ms

MAX_BATCH = 100


def read_inputs(body: dict, max_inputs: int = MAX_BATCH) -> list[dict]:
    """The ``inputs`` list of a batch body, checked (400 when malformed or too long)."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: inputs is required")
    inputs = body["inputs"]
    if not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: each input must be an object")
    if len(inputs) > max_inputs:
        raise validation_error(
            f"Too many inputs: {len(inputs)}. The maximum number of inputs supported in a "
            f"batch request is {max_inputs}.",
            context={"maxInputs": [str(max_inputs)]})
    return inputs

def batch_answer(results: list[dict], errors: list[dict],
                 started: int) -> tuple[int, dict]:
    """(200, body) or, with errors, (207, body with ``numErrors`` and ``errors``)."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results,
                            "startedAt": fmt_ms(started), "completedAt": fmt_ms(now_ms())}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return 207, body
    return 200, body
