"""Sending one batch-write chunk so that every input is accounted for.

After each call, every input sent is a result (written), a :class:`RowError` (refused, or
its outcome unknown), or is sent again in a smaller chunk (bisection). Nothing is silently
dropped:

* a 207 error entry becomes a RowError for the input it names;
* an input the 2xx body neither returns nor refuses is a MISSING_RESULT RowError;
* a 2xx whose body is not the expected JSON (an HTML gateway page, a truncated body) makes
  every input of the chunk an INVALID_RESPONSE RowError. The write may have been applied,
  so it is *not* retried blindly (a create could be duplicated, an older value could be
  replayed): the inputs are reported failed with an unknown outcome and the next run reads
  the records back by their id property and writes whatever still differs;
* a whole-chunk 4xx caused by one input is bisected down to that input, but a 400 no single
  input causes (the id property is not unique-valued, a property does not exist) fails fast
  with HubSpot's reason instead of being split into ~2n calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from hubspot_sync.hubspot_client.errors import (
    INVALID_RESPONSE,
    MISSING_RESULT,
    BatchOutcome,
    HubSpotError,
    RowError,
    batch_level_reason,
)
from hubspot_sync.hubspot_client.session import HubSpotSession
from hubspot_sync.transport import json_body

log = logging.getLogger(__name__)

BISECT_STATUSES = frozenset({400, 404, 409, 413, 422})


@dataclass(frozen=True)
class ChunkSpec:
    """How one kind of batch write names its inputs and results.

    :param input_id: an input's id for RowError.input_id.
    :param map_error: a 207 error entry -> the RowErrors of the inputs it names.
    :param input_key: an input's key matched against ``result_key`` (None: no such key).
    :param result_key: a result's key, used when HubSpot does not echo the trace id.
    """

    input_id: Callable[[dict], str | None]
    map_error: Callable[[dict, list[dict], str], list[RowError]]
    input_key: Callable[[dict], Any]
    result_key: Callable[[dict], Any]

    def trace(self, item: dict) -> str | None:
        return item.get("objectWriteTraceId") or self.input_id(item)


class ChunkWriter(HubSpotSession):
    """The one implementation of "send a chunk of inputs, account for each"."""

    def _write_chunks(self, route: str, path: dict[str, Any], chunks: Sequence[list[dict]],
                      spec: ChunkSpec,
                      on_chunk: Callable[[list[dict]], None] | None = None) -> BatchOutcome:
        """Send every chunk, several in flight (:meth:`_dispatch`); the outcome lists the
        chunks' results and errors in input order whatever order HubSpot answered in. When a
        chunk fails as a whole, no further chunk is sent, the ones in flight are accounted
        for, and the error carries the outcome of everything sent (``exc.outcome``)."""

        def one(chunk: list[dict]) -> BatchOutcome:
            part = BatchOutcome()
            self._write_chunk(route, path, chunk, part, spec)
            return part

        done = self._dispatch(one, chunks, None if on_chunk is None
                              else lambda i, _: on_chunk(chunks[i]))
        outcome = BatchOutcome()
        for index in sorted(done.results):
            outcome.results.extend(done.results[index].results)
            outcome.errors.extend(done.results[index].errors)
        if done.error is not None:
            exc = done.error
            if isinstance(exc, HubSpotError):
                if exc.outcome is not None:  # what the failed chunk achieved before failing
                    outcome.results.extend(exc.outcome.results)
                    outcome.errors.extend(exc.outcome.errors)
                exc.outcome = outcome
            raise exc
        return outcome

    def _write_chunk(self, route: str, path: dict[str, Any], chunk: list[dict],
                     outcome: BatchOutcome, spec: ChunkSpec) -> None:
        """Send one chunk; see the module docstring for what happens to each input."""
        try:
            response = self._request("POST", route, path, json={"inputs": chunk})
        except HubSpotError as exc:
            if batch_level_reason(exc):
                raise HubSpotError(
                    exc.status, exc.category,
                    f"HubSpot refused the whole batch of {len(chunk)} for a reason no single "
                    f"input causes (not split further): {exc.message}", exc.correlation_id,
                    context=exc.context, route=exc.route, outcome=outcome) from exc
            if exc.status not in BISECT_STATUSES:
                exc.outcome = outcome
                raise
            if len(chunk) == 1:
                only = chunk[0]
                outcome.errors.append(RowError(spec.trace(only), spec.input_id(only),
                                               str(exc.status), exc.category, exc.message,
                                               dict(exc.context)))
                return
            log.info("HubSpot %s refused %d inputs (%s %s); bisecting", route, len(chunk),
                     exc.status, exc.category)
            mid = len(chunk) // 2
            self._write_chunk(route, path, chunk[:mid], outcome, spec)
            self._write_chunk(route, path, chunk[mid:], outcome, spec)
            return
        self._account(response, chunk, outcome, spec)

    @staticmethod
    def _account(response: requests.Response, chunk: list[dict], outcome: BatchOutcome,
                 spec: ChunkSpec) -> None:
        """Give every input of a 2xx chunk a result or a RowError."""
        status = str(response.status_code)
        try:
            body = json_body(response)
            if not isinstance(body, dict) or not isinstance(body.get("results", []), list):
                raise ValueError(f"HTTP {status} body is JSON but not a batch response")
        except ValueError as exc:
            log.warning("HubSpot answered a batch of %d with an unusable body: %s",
                        len(chunk), exc)
            outcome.errors.extend(RowError(
                spec.trace(item), spec.input_id(item), status, INVALID_RESPONSE,
                f"{exc}; the write may have been applied, so it is not retried: the next run "
                "reads the record back by its id and writes what still differs")
                for item in chunk)
            return
        traces = {spec.trace(item): item for item in chunk}
        by_key = {str(k): spec.trace(item) for item in chunk
                  if (k := spec.input_key(item)) not in (None, "")}
        written: set[str | None] = set()
        anonymous = 0
        results = [r for r in body.get("results") or [] if isinstance(r, dict)]
        for result in results:
            trace = result.get("objectWriteTraceId")
            if trace not in traces:
                key = spec.result_key(result)
                trace = by_key.get(str(key)) if key not in (None, "") else None
                if trace is not None and "objectWriteTraceId" not in result \
                        and "objectWriteTraceId" in chunk[0]:
                    result["objectWriteTraceId"] = trace
            if trace in traces:
                written.add(trace)
            else:
                anonymous += 1
        errors: list[RowError] = []
        for entry in body.get("errors") or []:
            errors.extend(spec.map_error(entry, chunk, status) if isinstance(entry, dict)
                          else [RowError(None, None, status, "ERROR", str(entry))])
        refused = {e.trace_id for e in errors if e.trace_id in traces}
        unmatched = [e for e in errors if e.trace_id not in traces]
        unresolved = [item for trace, item in traces.items()
                      if trace not in written and trace not in refused]
        outcome.results.extend(results)
        if len(unresolved) <= anonymous:  # results HubSpot did not label (creates)
            outcome.errors.extend(errors)
            return
        outcome.errors.extend(e for e in errors if e.trace_id in traces)
        extra = "; errors naming no input: " + " | ".join(
            f"{e.category}: {e.message}" for e in unmatched) if unmatched else ""
        outcome.errors.extend(RowError(
            spec.trace(item), spec.input_id(item), status, MISSING_RESULT,
            f"HubSpot answered {status} without a result or an error for this input{extra}")
            for item in unresolved)
