"""Benchmark the OfficeRnD seed and sandbox: prints figures, asserts nothing.

    .venv/bin/python bench/bench_officernd_seed.py [--scale 100000] [--seed 42]

1. generation time of ``sandbox.officernd.seed.generate`` at the scale (plain run);
2. peak memory of the same generation (tracemalloc, separate run) and the process's max RSS;
3. serving: time to page through every member over HTTP (OAuth token, ``$limit=50``,
   ``$cursorNext`` until null) with a requests.Session client, rate limit off.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime

import requests

from sandbox.officernd import OfficeRnDSandbox
from sandbox.officernd.seed import generate

ANCHOR = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)

    print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | "
          f"cpus={os.cpu_count()} | python {platform.python_version()}")

    t0 = time.perf_counter()
    data = generate(args.seed, args.scale, ANCHOR)
    gen_s = time.perf_counter() - t0
    counts = data.counts()
    print(f"generate(scale={args.scale}): {gen_s:.2f} s, {sum(counts.values())} records {counts}")
    t0 = time.perf_counter()
    anomalies = data.anomalies()
    print(f"detect_anomalies: {time.perf_counter() - t0:.2f} s, "
          f"{sum(len(v) for kinds in anomalies.values() for v in kinds.values())} flagged")
    del data, anomalies
    gc.collect()

    tracemalloc.start()
    t0 = time.perf_counter()
    data = generate(args.seed, args.scale, ANCHOR)
    traced_s = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del data
    gc.collect()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of generate: {peak / 2**20:.0f} MiB "
          f"(tracemalloc; traced run {traced_s:.2f} s); "
          f"process max RSS so far {rss_mb:.0f} MiB")

    t0 = time.perf_counter()
    with OfficeRnDSandbox(port=0, seed=args.seed, scale=args.scale, anchor=ANCHOR,
                          rate_limit=0, token_rate_limit=0) as sb:
        start_s = time.perf_counter() - t0
        session = requests.Session()
        token = session.post(f"{sb.url}/oauth/token", data={
            "client_id": sb.client_id, "client_secret": sb.client_secret,
            "grant_type": "client_credentials"}, timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for label, extra in (("all fields", {}), ("$select=name,email", {"$select": "name,email"})):
            params = {"$limit": 50, **extra}
            pages = rows = 0
            t0 = time.perf_counter()
            while True:
                resp = session.get(f"{sb.api_url}/members", params=params, headers=headers,
                                   timeout=30)
                resp.raise_for_status()
                page = resp.json()
                pages += 1
                rows += len(page["results"])
                if page["cursorNext"] is None:
                    break
                params["$cursorNext"] = page["cursorNext"]
            took = time.perf_counter() - t0
            print(f"page all members over HTTP ({label}): {rows} members, {pages} pages in "
                  f"{took:.2f} s ({took / pages * 1000:.1f} ms/page, {rows / took:.0f} members/s)")
        t0 = time.perf_counter()
        total = session.get(f"{sb.api_url}/members/count", params={
            "modifiedAt[$gte]": "2026-10-30T00:00:00.000Z", "$countBy": "status"},
            headers=headers, timeout=30).json()["total"]
        print(f"filtered /members/count (modifiedAt window, $countBy): {total} in "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    print(f"sandbox start (seed + server) at scale {args.scale}: {start_s:.2f} s; "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
