"""Ids shaped like OfficeRnD's (MongoDB ObjectIds)."""

from __future__ import annotations

import random


class IdFactory:
    """MongoDB-ObjectId-like 24-hex ids: 8 hex of epoch seconds, 10 fixed hex, 6 hex counter.

    The counter makes ids unique; the time prefix makes ``_id`` order follow creation.
    """

    def __init__(self, rng: random.Random, counter: int = 1, middle: str | None = None) -> None:
        self.middle = middle or f"{rng.getrandbits(40):010x}"
        self.counter = counter

    def new(self, epoch_ms: int) -> str:
        self.counter += 1
        seconds = max(0, epoch_ms // 1000) & 0xFFFFFFFF
        return f"{seconds:08x}{self.middle}{self.counter & 0xFFFFFF:06x}"

