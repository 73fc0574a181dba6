"""What validation decided for one batch: valid rows, rejects, counts, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


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
