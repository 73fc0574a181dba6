"""Validate the rows about to be written to HubSpot with a Great Expectations suite built
from the mapping, and quarantine the rows that fail with a reason a person understands.

The suite is never written by hand: :func:`plan_checks` derives it from the mapping's
properties (``required``, ``expect``, ``min``/``max``, ``max_length``, ``match_on``), the
HubSpot property definitions read by the run (type, enumeration options) and the mapping's
extra ``expectations``. :func:`validate_rows` runs it with GX Core 1.x on the whole batch,
names every failing record through GX's ``unexpected_index_list`` (keyed on ``source_id``),
keeps the rows that pass every rule and builds Data Docs HTML for the run.

One bad row never fails the batch: it becomes one reject per (record, rule, property) and
is not sent. Only when the share of rejected records exceeds the mapping's
``max_rejected_ratio`` (:meth:`ValidationOutcome.exceeds`) should the caller fail the run.

Neither pandas nor Great Expectations is imported at module import time: the DAG factory
may import this module while parsing DAGs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from hubspot_sync.mapping import EntityMapping, PropertySpec

# Rule names (stable: they are stored in the rejects table and counted in run reports).
RULE_REQUIRED = "required"
RULE_EMAIL = "email"
RULE_DOMAIN = "domain"
RULE_URL = "url"
RULE_NUMBER = "number"
RULE_RANGE = "range"
RULE_DATE = "date"
RULE_DATE_RANGE = "date_range"
RULE_ENUM = "enum"
RULE_LENGTH = "length"
RULE_UNIQUE = "unique"
RULE_VALUE_MAP = "value_map"
RULES = (RULE_REQUIRED, RULE_EMAIL, RULE_DOMAIN, RULE_URL, RULE_NUMBER, RULE_RANGE, RULE_DATE,
         RULE_DATE_RANGE, RULE_ENUM, RULE_LENGTH, RULE_UNIQUE, RULE_VALUE_MAP)

HUBSPOT_MAX_LENGTH = 65_536
DATE_MIN = "1900-01-01"
DATE_MAX = "2100-12-31"
REJECT_COLUMNS = ["source_id", "rule", "property", "value", "reason"]
MAX_VALUE_CHARS = 1_000  # the rejects table keeps at most this much of a value
_REASON_VALUE_CHARS = 80  # a reason quotes at most this much of a value

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
# \Z rather than $: "$" also matches before a trailing newline, which HubSpot would refuse.
PATTERNS: dict[str, str] = {
    RULE_EMAIL: rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@(?:{_LABEL}\.)+{_TLD}\Z",
    RULE_DOMAIN: rf"^(?:{_LABEL}\.)+{_TLD}\Z",
    RULE_URL: rf"^(?:https?://)?(?:{_LABEL}\.)+{_TLD}(?::\d{{1,5}})?(?:[/?#]\S*)?\Z",
    "number": r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z",
    "date": r"^\d{4}-\d{2}-\d{2}\Z",
    "datetime": r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\Z",
}
_EXPECT_WORDS = {RULE_EMAIL: "a valid email address", RULE_DOMAIN: "a valid domain name",
                 RULE_URL: "a valid URL"}
_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal",
             "products": "product", "line_items": "line item"}


# ---------------------------------------------------------------------------------------
# The plan: which expectations the mapping implies (pure Python, no GX, no pandas)
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One expectation of the generated suite.

    ``column`` is the column of the working frame GX looks at (a property, ``id_value`` or
    a helper such as ``__number__price``); ``property`` is the HubSpot property the reject
    names; ``reason(value)`` turns the value sent into a sentence.
    """

    rule: str
    property: str | None
    expectation: str  # GX class name, e.g. ExpectColumnValuesToMatchRegex
    kwargs: dict[str, Any]
    reason: Callable[[str], str] = field(compare=False, repr=False)
    value_column: str | None = None  # column whose original value is reported (default: property)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


def _q(value: str) -> str:
    """A value quoted for a reason, shortened when long."""
    text = value if len(value) <= _REASON_VALUE_CHARS else value[:_REASON_VALUE_CHARS - 1] + "…"
    return f"'{text}'"


def _type_of(prop: PropertySpec, definition: dict[str, Any] | None) -> str:
    if definition and definition.get("type"):
        return str(definition["type"])
    return prop.type or "string"


def _options_of(prop: PropertySpec, definition: dict[str, Any] | None, ptype: str) -> list[str]:
    if definition is not None and definition.get("options") is not None:
        return [str(o.get("value")) for o in definition["options"] if o.get("value") is not None]
    if prop.options is not None:
        return list(prop.options)
    return ["true", "false"] if ptype == "bool" else []


def _list_options(options: list[str], limit: int = 8) -> str:
    if not options:
        return "no options defined"
    shown = ", ".join(options[:limit])
    return shown + (f", … ({len(options)} in all)" if len(options) > limit else "")


def _fmt_number(number: float) -> str:
    return f"{number:g}" if abs(number) < 1e15 else str(number)


def plan_checks(mapping: EntityMapping, hubspot_properties: dict[str, dict]) -> list[Check]:
    """The checks the mapping implies, in a stable order (see docs/validation.md)."""
    checks: list[Check] = []
    id_prop = mapping.hubspot.id_property
    checks.append(Check(RULE_REQUIRED, id_prop, "ExpectColumnValuesToNotBeNull",
                        {"column": "id_value"},
                        lambda v, p=id_prop: f"{p} is empty; the sync cannot address the record",
                        value_column="id_value"))
    for prop in mapping.properties:
        name = prop.to
        definition = hubspot_properties.get(name)
        ptype = _type_of(prop, definition)
        if prop.required:
            checks.append(Check(RULE_REQUIRED, name, "ExpectColumnValuesToNotBeNull",
                                {"column": name},
                                lambda v, n=name: f"{n} is required but empty"))
        if prop.expect:
            words = _EXPECT_WORDS[prop.expect]
            checks.append(Check(prop.expect, name, "ExpectColumnValuesToMatchRegex",
                                {"column": name, "regex": PATTERNS[prop.expect]},
                                lambda v, n=name, w=words: f"{n} {_q(v)} is not {w}"))
        if ptype == "number" or prop.min is not None or prop.max is not None:
            checks.append(Check(RULE_NUMBER, name, "ExpectColumnValuesToMatchRegex",
                                {"column": name, "regex": PATTERNS["number"]},
                                lambda v, n=name: f"{n} {_q(v)} is not a number"))
            if prop.min is not None or prop.max is not None:
                checks.append(Check(RULE_RANGE, name, "ExpectColumnValuesToBeBetween",
                                    {"column": f"__number__{name}", "min_value": prop.min,
                                     "max_value": prop.max},
                                    _range_reason(name, prop.min, prop.max)))
        if ptype in ("date", "datetime"):
            if ptype == "date":
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToMatchRegex",
                                    {"column": name, "regex": PATTERNS["date"]},
                                    lambda v, n=name: f"{n} {_q(v)} is not a date in the form "
                                                      "YYYY-MM-DD"))
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToMatchStrftimeFormat",
                                    {"column": name, "strftime_format": "%Y-%m-%d"},
                                    lambda v, n=name: f"{n} {_q(v)} is not a real calendar date"))
            else:
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToMatchRegex",
                                    {"column": name, "regex": PATTERNS["datetime"]},
                                    lambda v, n=name: f"{n} {_q(v)} is not an ISO-8601 date-time "
                                                      "(YYYY-MM-DDThh:mm:ssZ)"))
                checks.append(Check(RULE_DATE, name, "ExpectColumnValuesToBeDateutilParseable",
                                    {"column": name},
                                    lambda v, n=name: f"{n} {_q(v)} is not a real date-time"))
            checks.append(Check(RULE_DATE_RANGE, name, "ExpectColumnValuesToBeBetween",
                                {"column": f"__date__{name}",
                                 "min_value": int(DATE_MIN.replace("-", "")),
                                 "max_value": int(DATE_MAX.replace("-", ""))},
                                lambda v, n=name: f"{n} {_q(v)} is outside the accepted range "
                                                  f"{DATE_MIN} .. {DATE_MAX}"))
        if ptype in ("enumeration", "bool"):
            options = _options_of(prop, definition, ptype)
            listed = _list_options(options)
            if definition is not None and definition.get("fieldType") == "checkbox":
                # Multiple checkboxes: ";"-separated option values.
                alt = "|".join(re.escape(o) for o in options) or "(?!)"
                checks.append(Check(RULE_ENUM, name, "ExpectColumnValuesToMatchRegex",
                                    {"column": name, "regex": rf"^(?:{alt})(?:;(?:{alt}))*\Z"},
                                    _multi_enum_reason(name, options, listed)))
            else:
                checks.append(Check(RULE_ENUM, name, "ExpectColumnValuesToBeInSet",
                                    {"column": name, "value_set": options},
                                    lambda v, n=name, o=listed: f"{n} {_q(v)} is not an option of "
                                                                f"HubSpot's {n} ({o})"))
        limit = min(HUBSPOT_MAX_LENGTH, prop.max_length or HUBSPOT_MAX_LENGTH)
        whose = "the mapping" if prop.max_length and prop.max_length < HUBSPOT_MAX_LENGTH else "HubSpot"
        checks.append(Check(RULE_LENGTH, name, "ExpectColumnValueLengthsToBeBetween",
                            {"column": name, "max_value": limit},
                            lambda v, n=name, m=limit, w=whose:
                            f"{n} is {len(v)} characters long; {w} allows at most {m}"))
    noun = _SINGULAR.get(mapping.hubspot.object, mapping.hubspot.object)
    for key in [id_prop, *mapping.hubspot.match_on]:
        column = "id_value" if key == id_prop else key
        # The reason is completed with the record that keeps the value (see _unique_rejects).
        checks.append(Check(RULE_UNIQUE, key, "ExpectColumnValuesToBeUnique",
                            {"column": f"__key__{column}"},
                            lambda v, k=key, o=noun: f"HubSpot allows one {o} per {k}",
                            value_column=column))
    for spec in mapping.expectations:
        kwargs = dict(spec.kwargs)
        if spec.column is not None:
            kwargs["column"] = spec.column
        checks.append(Check(spec.expectation, spec.column, _class_name(spec.expectation), kwargs,
                            _custom_reason(spec.expectation, spec.column, spec.kwargs, spec.reason),
                            value_column=spec.column))
    return checks


def _range_reason(name: str, low: float | None, high: float | None) -> Callable[[str], str]:
    def reason(value: str) -> str:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if low is not None and number < low:
            return f"{name} {value} is below the minimum {_fmt_number(low)}"
        if high is not None and number > high:
            return f"{name} {value} is above the maximum {_fmt_number(high)}"
        bounds = " .. ".join(_fmt_number(b) if b is not None else "" for b in (low, high))
        return f"{name} {value} is outside the range {bounds}"
    return reason


def _multi_enum_reason(name: str, options: list[str], listed: str) -> Callable[[str], str]:
    def reason(value: str) -> str:
        bad = [part for part in value.split(";") if part not in options]
        return (f"{name} {_q(value)} has {', '.join(_q(b) for b in bad) or 'an empty part'}, "
                f"not an option of HubSpot's {name} ({listed})")
    return reason


def _custom_reason(expectation: str, column: str | None, kwargs: dict[str, Any],
                   template: str | None) -> Callable[[str], str]:
    def reason(value: str) -> str:
        if template:
            try:
                return template.format(value=value, property=column, column=column, **kwargs)
            except (KeyError, IndexError, ValueError, TypeError):
                return f"{template} (value {_q(value)})"
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return f"{column or 'record'} {_q(value)} fails {expectation}({args})"
    return reason


def _class_name(snake: str) -> str:
    """``expect_column_values_to_match_regex`` -> ``ExpectColumnValuesToMatchRegex``."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


# ---------------------------------------------------------------------------------------
# The outcome
# ---------------------------------------------------------------------------------------

@dataclass
class ValidationOutcome:
    """What validation decided for one batch.

    ``valid`` holds the rows that passed every rule (same columns as the input, same order);
    ``rejects`` one row per (record, rule, property) with the value and a reason;
    ``batch_failures`` expectations that failed for the batch as a whole (custom aggregate
    expectations such as a column mean), which name no record and fail the run.
    """

    valid: pd.DataFrame
    rejects: pd.DataFrame
    rule_counts: dict[str, int]
    rejected_ratio: float
    data_docs_path: str | None
    checked: int
    entity: str = ""
    batch_failures: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Number of rejected records (a record failing three rules counts once)."""
        return self.checked - len(self.valid)

    def exceeds(self, max_ratio: float) -> bool:
        """True when the run must fail: more than ``max_ratio`` of the records were rejected,
        or an aggregate expectation failed for the batch."""
        return bool(self.batch_failures) or self.rejected_ratio > max_ratio

    def summary(self, examples: int = 3) -> str:
        """A few lines for the task log: totals, then each failing rule with examples."""
        head = (f"validate {self.entity or 'batch'}: {self.checked} checked, "
                f"{len(self.valid)} valid, {self.rejected} rejected "
                f"({self.rejected_ratio:.1%})")
        lines = [head]
        for rule, count in sorted(self.rule_counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {rule}: {count} reject{'s' if count != 1 else ''}")
            sample = self.rejects[self.rejects["rule"] == rule].head(examples)
            for sid, reason in zip(sample["source_id"], sample["reason"], strict=True):
                lines.append(f"    - {sid}: {reason}")
        for failure in self.batch_failures:
            lines.append(f"  batch failure: {failure}")
        if self.data_docs_path:
            lines.append(f"  Data Docs: {self.data_docs_path}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Running the suite
# ---------------------------------------------------------------------------------------

def safe_name(text: str) -> str:
    """A run id as a folder name: ``manual__2024-01-01T00:00:00+00:00`` -> ``manual__2024-01-01T00_00_00_00_00``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "run"


def _as_text(series: pd.Series) -> pd.Series:
    """Values as str (object dtype), blank and missing as None."""
    import pandas as pd

    text = series.astype("string")
    text = text.mask(text.str.strip() == "")
    return pd.Series(text.to_numpy(dtype=object, na_value=None), index=series.index,
                     dtype=object)


def _working_frame(rows: pd.DataFrame, mapping: EntityMapping, checks: list[Check],
                   with_row: bool) -> pd.DataFrame:
    """The frame GX validates: source_id, id_value, each property as text, helper columns."""
    import pandas as pd

    index = pd.RangeIndex(len(rows))
    data: dict[str, Any] = {"source_id": rows["source_id"].astype(str).to_numpy(dtype=object)}
    if with_row:
        data["__row"] = index.to_numpy()
    data["id_value"] = _as_text(rows["id_value"]).to_numpy()
    for prop in mapping.properties:
        data[prop.to] = _as_text(rows[prop.to]).to_numpy()
    work = pd.DataFrame(data, index=index)
    for check in checks:
        column = check.column
        if column is None or column in work.columns or not column.startswith("__"):
            continue
        kind, _, base = column[2:].partition("__")
        text = work[base].astype("string")
        if kind == "number":
            ok = text.str.fullmatch(PATTERNS["number"]).fillna(False).astype(bool)
            numbers = pd.to_numeric(text.where(ok), errors="coerce")
            work[column] = numbers.astype("float64").to_numpy()
        elif kind == "date":
            parts = text.str.extract(r"^(\d{4})-(\d{2})-(\d{2})")
            numbers = parts.apply(pd.to_numeric, errors="coerce").astype("float64")
            work[column] = (numbers[0] * 10000 + numbers[1] * 100 + numbers[2]).to_numpy()
        elif kind == "key":
            # HubSpot matches emails and domains case-insensitively; ids exactly.
            key = text if base == "id_value" else text.str.strip().str.casefold()
            work[column] = key.to_numpy(dtype=object, na_value=None)
    return work


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


def validate_rows(rows: pd.DataFrame, mapping: EntityMapping, hubspot_properties: dict[str, dict],
                  *, run_id: str, docs_dir: Path | None = None) -> ValidationOutcome:
    """Run the suite generated from ``mapping`` on ``rows`` and split them into valid and rejects.

    ``rows`` has ``source_id``, ``action``, ``id_value``, ``problems`` (list of
    (property, value, reason)) and one column per mapped property (``p.to``), oldest change
    first: for a duplicate key the first row wins. ``hubspot_properties`` are HubSpot's
    definitions by name; a property missing there falls back to the mapping's type/options.
    With ``docs_dir``, Data Docs are written to ``docs_dir/<entity>/<run_id>/index.html``.
    """
    import pandas as pd

    checks = plan_checks(mapping, hubspot_properties)
    empty_rejects = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    total = len(rows)
    if total == 0:  # nothing to write: no GX run, no Data Docs
        return ValidationOutcome(valid=rows.copy(), rejects=empty_rejects, rule_counts={},
                                 rejected_ratio=0.0, data_docs_path=None, checked=0,
                                 entity=mapping.entity)
    missing = [c for c in ["source_id", "id_value", *(p.to for p in mapping.properties)]
               if c not in rows.columns]
    if missing:
        raise ValueError(f"validate {mapping.entity}: rows lack columns {', '.join(missing)}")
    for check in checks:
        if check.column is not None and check.value_column is not None \
                and check.value_column not in ("id_value", "source_id") \
                and check.value_column not in {p.to for p in mapping.properties}:
            raise ValueError(f"mapping {mapping.entity}: expectation {check.rule} names column "
                             f"{check.value_column!r}, which is not a mapped property, "
                             "id_value or source_id")

    source_ids = rows["source_id"].astype(str).to_numpy(dtype=object)
    with_row = not pd.Index(source_ids).is_unique
    work = _working_frame(rows, mapping, checks, with_row)
    results, docs_path = _run_gx(work, checks, mapping.entity, run_id, docs_dir, with_row)

    parts: list[pd.DataFrame] = []
    batch_failures: list[str] = []
    sid_index = pd.Index(source_ids)
    for index, check in enumerate(checks):
        result = results[index]
        unexpected = result.result.get("unexpected_index_list")
        if not unexpected:
            if not result.success and "unexpected_index_list" not in result.result:
                batch_failures.append(f"{check.rule}({check.column or ''}): "
                                      f"{_brief(result.result)}")
            continue
        found = pd.DataFrame(unexpected)
        if with_row:
            positions = found["__row"].to_numpy(dtype="int64")
        else:
            positions = sid_index.get_indexer(found["source_id"].astype(str))
        positions = positions[positions >= 0]
        if check.rule == RULE_UNIQUE:
            parts.append(_unique_rejects(work, check, positions, source_ids))
        else:
            parts.append(_rejects(work, check, positions, source_ids))
    parts.append(_value_map_rejects(rows, mapping, source_ids))
    parts = [p for p in parts if len(p)]
    rejects = (pd.concat(parts, ignore_index=True) if parts else empty_rejects)
    rejected_positions = (rejects.pop("__pos").to_numpy() if len(rejects) else [])
    rejects = rejects[REJECT_COLUMNS].reset_index(drop=True)
    keep = pd.Series(True, index=pd.RangeIndex(total))
    if len(rejected_positions):
        keep.iloc[pd.unique(rejected_positions)] = False
    valid = rows.loc[keep.to_numpy()].copy()
    rule_counts = {str(k): int(v) for k, v in rejects["rule"].value_counts().items()}
    n_rejected = total - len(valid)
    return ValidationOutcome(valid=valid, rejects=rejects, rule_counts=rule_counts,
                             rejected_ratio=n_rejected / total, data_docs_path=docs_path,
                             checked=total, entity=mapping.entity, batch_failures=batch_failures)


def _brief(result: dict[str, Any]) -> str:
    observed = result.get("observed_value")
    return f"observed {observed!r}" if observed is not None else "failed"


def _run_gx(work: pd.DataFrame, checks: list[Check], entity: str, run_id: str,
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
    actions = []
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
        index = int(result.expectation_config.meta["check"])
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


def _values(work: pd.DataFrame, column: str | None, positions: Any) -> list[str]:
    if column is None:
        return [""] * len(positions)
    values = work[column].to_numpy(dtype=object, na_value=None)[positions]
    return ["" if v is None else str(v) for v in values]


def _frame(positions: Any, source_ids: Any, rule: str, prop: str | None, values: list[str],
           reasons: list[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({
        "__pos": positions, "source_id": source_ids[positions], "rule": rule,
        "property": prop, "value": [v[:MAX_VALUE_CHARS] for v in values], "reason": reasons,
    })


def _rejects(work: pd.DataFrame, check: Check, positions: Any, source_ids: Any) -> pd.DataFrame:
    values = _values(work, check.value_column or check.property, positions)
    return _frame(positions, source_ids, check.rule, check.property, values,
                  [check.reason(v) for v in values])


def _unique_rejects(work: pd.DataFrame, check: Check, positions: Any,
                    source_ids: Any) -> pd.DataFrame:
    """GX marks every copy of a duplicate; the first row keeps the value, later ones are rejected."""
    import numpy as np

    key = work[check.column]
    later = key.duplicated(keep="first").to_numpy() & key.notna().to_numpy()
    positions = np.asarray(positions)
    positions = positions[later[positions]]
    keepers = key[~key.duplicated(keep="first") & key.notna()]
    keeper_of = dict(zip(keepers.to_numpy(), source_ids[keepers.index.to_numpy()], strict=True))
    values = _values(work, check.value_column, positions)
    keys = key.to_numpy(dtype=object, na_value=None)[positions]
    rule_text = check.reason("")
    own = source_ids[positions]
    reasons = [f"{check.property} {value} is also used by {keeper_of[k]}, which keeps it; "
               f"{rule_text}" if keeper_of[k] != sid else
               f"{check.property} {value} appears more than once in this batch for {sid}; "
               f"the first row keeps it" for value, k, sid in zip(values, keys, own, strict=True)]
    return _frame(positions, source_ids, check.rule, check.property, values, reasons)


def _value_map_rejects(rows: pd.DataFrame, mapping: EntityMapping, source_ids: Any) -> pd.DataFrame:
    """Each (property, value, reason) found while mapping becomes a ``value_map`` reject."""
    import pandas as pd

    if "problems" not in rows.columns:
        return pd.DataFrame()
    found: list[tuple[int, str, str, str]] = []
    for pos, problems in enumerate(rows["problems"].to_numpy(dtype=object)):
        if problems is None or isinstance(problems, float) or len(problems) == 0:
            continue
        for prop, value, reason in problems:
            text = "" if value is None else str(value)
            found.append((pos, str(prop), text, _value_map_reason(mapping, str(prop), reason)))
    if not found:
        return pd.DataFrame()
    positions, props, values, reasons = (list(col) for col in zip(*found, strict=True))
    frame = _frame(pd.Series(positions).to_numpy(), source_ids, RULE_VALUE_MAP, None, values,
                   reasons)
    frame["property"] = props
    return frame


def _value_map_reason(mapping: EntityMapping, prop: str, reason: str) -> str:
    spec = next((p for p in mapping.properties if p.to == prop), None)
    if spec is not None and spec.value_map:
        known = list(spec.value_map)
        return f"{reason} (known values: {_list_options(known)})"
    return reason
