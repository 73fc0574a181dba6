"""Progress lines a person can follow in the Airflow task log.

A long step (``load`` of 34,000 members, an extract of many pages) says where it is at most
every ``SYNC_PROGRESS_SECONDS`` (default 10) seconds, e.g.
``members load: batch 12 of 340, 1,200 of 34,000 records, about 2 min left``, and once at the
end ``members load: 34,000 records in 340 batches, took 5 min 40 s``. With an unknown total
the line is ``members extract: page 12, 600 records so far`` (no estimate).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

DEFAULT_EVERY = 10.0


def default_every() -> float:
    """Seconds between progress lines: ``$SYNC_PROGRESS_SECONDS`` or 10."""
    return max(0.0, float(os.environ.get("SYNC_PROGRESS_SECONDS") or DEFAULT_EVERY))


def duration(seconds: float) -> str:
    """``4.2 s``, ``5 min 40 s``, ``2 h 5 min``: precise enough for a person."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min"


def estimate(seconds: float) -> str:
    """A rough time left: ``under 1 min``, ``about 2 min``, ``about 1 h 10 min``."""
    if seconds < 60:
        return "under 1 min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"


def _plural(count: int, word: str) -> str:
    if count == 1:
        return word
    return f"{word}es" if word.endswith(("ch", "s")) else f"{word}s"


class Progress:
    """Counts the items and batches of one long piece of work and logs where it is.

    :param label: what the work is, e.g. ``members load``.
    :param total_items: how many items in all (None: unknown, no estimate is given).
    :param total_batches: how many batches in all (None: unknown).
    :param unit: what a batch is called in the lines (``batch``, ``page``).
    :param noun: what an item is called (``records``).
    :param every: the fewest seconds between two progress lines (default
        :func:`default_every`); 0 logs every batch.
    :param clock: monotonic seconds, injectable for tests.
    """

    def __init__(self, label: str, total_items: int | None = None,
                 total_batches: int | None = None, *, unit: str = "batch",
                 noun: str = "records", every: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 log: logging.Logger | None = None) -> None:
        self.label = label
        self.total_items = total_items
        self.total_batches = total_batches
        self.unit = unit
        self.noun = noun
        self.every = default_every() if every is None else every
        self.clock = clock
        self.log = log or logging.getLogger(__name__)
        self.items = 0
        self.batches = 0
        self.started = clock()
        self._last_line = self.started

    @classmethod
    def batched(cls, label: str, sizes: Iterable[int], batch_size: int,
                **kwargs: Any) -> Progress:
        """Progress over calls of ``batch_size`` items each, one call sequence per size in
        ``sizes`` (e.g. the upserts then the updates of a load)."""
        sizes = list(sizes)
        return cls(label, sum(sizes), sum(-(-n // batch_size) for n in sizes), **kwargs)

    def advance(self, items: int, batches: int = 1) -> None:
        """Count a finished batch; log a line when ``every`` seconds passed since the last."""
        self.items += items
        self.batches += batches
        now = self.clock()
        if now - self._last_line >= self.every:
            self._last_line = now
            self.log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress line as of ``now`` (default: the clock)."""
        now = self.clock() if now is None else now
        where = f"{self.unit} {self.batches:,}"
        if self.total_batches is not None:
            where += f" of {self.total_batches:,}"
        if self.total_items is None:
            return f"{self.label}: {where}, {self.items:,} {self.noun} so far"
        text = f"{self.label}: {where}, {self.items:,} of {self.total_items:,} {self.noun}"
        elapsed = now - self.started
        if self.items and elapsed > 0:
            left = max(0, self.total_items - self.items) * elapsed / self.items
            text += f", {estimate(left)} left"
        return text

    def done(self) -> str:
        """Log (and return) the closing line: the totals and the time taken."""
        text = (f"{self.label}: {self.items:,} {self.noun} in {self.batches:,} "
                f"{_plural(self.batches, self.unit)}, took {duration(self.clock() - self.started)}")
        self.log.info("%s", text)
        return text


def advance(progress: Progress | None, items: int, batches: int = 1) -> None:
    """``progress.advance`` for code whose caller may not want progress (None)."""
    if progress is not None:
        progress.advance(items, batches)
