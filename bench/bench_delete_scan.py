"""Benchmark the deletion check's id-only scan: prints figures, asserts nothing.

    .venv/bin/python bench/bench_delete_scan.py [--scale 10000]

OfficeRnD has no deleted-records feed, so the ``deletes`` step lists every member's id
(``$select=_id``, 50 a page) on the mapping's ``delete_check`` schedule. Compared with a
full read of the same resource (what a full refresh does): calls and time over HTTP against
the sandbox (rate limit off).
"""

from __future__ import annotations

import argparse
import time

from hubspot_sync.sources import OfficeRnDSource
from sandbox.officernd import OfficeRnDSandbox


def _source(url: str) -> OfficeRnDSource:
    return OfficeRnDSource.from_url(url, "sandbox-client", "sandbox-secret", "sandbox",
                                    token_cache_dir=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10_000)
    args = parser.parse_args()
    sandbox = OfficeRnDSandbox(port=0, seed=42, scale=args.scale, rate_limit=0,
                               token_rate_limit=0).start()
    try:
        scan = _source(sandbox.url)
        started = time.perf_counter()
        ids = scan.list_ids("members")
        scan_s = time.perf_counter() - started
        full = _source(sandbox.url)
        started = time.perf_counter()
        records = sum(1 for _ in full.extract("members", None, None))
        full_s = time.perf_counter() - started
    finally:
        sandbox.stop()
    print(f"id scan ($select=_id): {len(ids):,} ids, {scan.call_count} calls "
          f"(token included), {scan_s:.1f} s")
    print(f"full read:             {records:,} records, {full.call_count} calls "
          f"(token included), {full_s:.1f} s")


if __name__ == "__main__":
    main()
