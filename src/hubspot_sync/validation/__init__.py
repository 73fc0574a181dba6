"""Validate the rows about to be written to HubSpot with a Great Expectations suite built
from the mapping, and quarantine the rows that fail with a reason a person understands.

The suite is never written by hand: :func:`plan_checks` derives it from the mapping's
properties (``required``, ``expect``, ``min``/``max``, ``max_length``), the HubSpot
property definitions read by the run (type, enumeration options, ``hasUniqueValue``) and
the mapping's extra ``expectations``. :func:`validate_rows` runs it with GX Core 1.x on
the whole batch, names every failing record through GX's ``unexpected_index_list`` (keyed
on ``source_id``), keeps the rows that pass every rule and builds Data Docs HTML for the run.
Problems found while mapping (``value_map``, ``structured_value``) become rejects too.

One bad row never fails the batch: it becomes one reject per (record, rule, property) and
is not sent. Only when the share of rejected records exceeds the mapping's
``max_rejected_ratio`` (:meth:`ValidationOutcome.exceeds`) should the caller fail the run.

The package's modules: ``plan`` (the checks and their reasons, pure Python), ``suite``
(running them with GX, Data Docs), ``rejects`` (reject frames), ``outcome``
(:class:`ValidationOutcome`) and ``validate`` (:func:`validate_rows`, tying them together).
Neither pandas nor Great Expectations is imported at package import time: the DAG factory
may import it while parsing DAGs.
"""

from hubspot_sync.records import REJECT_COLUMNS
from hubspot_sync.transforms import RULE_STRUCTURED, RULE_VALUE_MAP
from hubspot_sync.validation.outcome import ValidationOutcome
from hubspot_sync.validation.plan import (
    DATE_MAX,
    DATE_MIN,
    HUBSPOT_MAX_LENGTH,
    HUBSPOT_UNIQUE,
    PATTERNS,
    RULE_DATE,
    RULE_DATE_RANGE,
    RULE_DOMAIN,
    RULE_EMAIL,
    RULE_ENUM,
    RULE_LENGTH,
    RULE_NUMBER,
    RULE_RANGE,
    RULE_REQUIRED,
    RULE_UNIQUE,
    RULE_URL,
    RULES,
    Check,
    plan_checks,
)
from hubspot_sync.validation.rejects import MAX_VALUE_CHARS
from hubspot_sync.validation.suite import safe_name
from hubspot_sync.validation.validate import validate_rows

__all__ = [
    "DATE_MAX", "DATE_MIN", "HUBSPOT_MAX_LENGTH", "HUBSPOT_UNIQUE", "MAX_VALUE_CHARS",
    "PATTERNS", "REJECT_COLUMNS", "RULES", "RULE_DATE", "RULE_DATE_RANGE", "RULE_DOMAIN",
    "RULE_EMAIL", "RULE_ENUM", "RULE_LENGTH", "RULE_NUMBER", "RULE_RANGE", "RULE_REQUIRED",
    "RULE_STRUCTURED", "RULE_UNIQUE", "RULE_URL", "RULE_VALUE_MAP", "Check",
    "ValidationOutcome", "plan_checks", "safe_name", "validate_rows",
]
