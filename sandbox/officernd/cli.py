"""``python -m sandbox officernd [--port 8092] [--seed 42] [--scale 500] ...``"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from sandbox._server import serve_forever
from sandbox.officernd.times import parse_ts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox officernd",
                                description="Local OfficeRnD Flex API v2 sandbox")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8092)
    p.add_argument("--seed", type=int, default=42, help="seed of the generated data (42)")
    p.add_argument("--scale", type=int, default=500,
                   help="number of members; other entities scale with it (500)")
    p.add_argument("--anchor", default=None,
                   help="ISO date-time the seed's timestamps are spread back from (now)")
    p.add_argument("--client-id", default="sandbox-client")
    p.add_argument("--client-secret", default="sandbox-secret")
    p.add_argument("--org", default="sandbox", help="organisation slug (sandbox)")
    p.add_argument("--rate-limit", type=int, default=400,
                   help="reads per rolling minute, 0 = off (400)")
    p.add_argument("--token-rate-limit", type=int, default=5,
                   help="token requests per rolling minute, 0 = off (5)")
    p.add_argument("--state", default=None, metavar="FILE",
                   help="SQLite file: loaded if it exists, else seeded and saved; "
                        "saved after every change")
    p.add_argument("--read-only", action="store_true",
                   help="the OAuth app has Read-only permission: no write scopes")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        anchor = parse_ts(args.anchor) if args.anchor else None
    except ValueError:
        print(f"--anchor: not an ISO date-time: {args.anchor!r}", file=sys.stderr)
        return 2
    from sandbox.officernd import OfficeRnDSandbox

    started = time.perf_counter()
    sb = OfficeRnDSandbox(port=args.port, seed=args.seed, scale=args.scale, anchor=anchor,
                          client_id=args.client_id, client_secret=args.client_secret,
                          org=args.org, rate_limit=args.rate_limit,
                          token_rate_limit=args.token_rate_limit, state_file=args.state,
                          host=args.host, write_access=not args.read_only)
    counts = sb.state.record_counts()
    gc.collect()
    gc.freeze()  # the seed lives as long as the process: keep it out of GC passes
    print(f"OfficeRnD sandbox: {sum(counts.values())} records in "
          f"{time.perf_counter() - started:.1f}s (seed {sb.state.seed}, scale {sb.state.scale}); "
          f"clock {sb.state.now_str()}", file=sys.stderr)
    print(f"  API   http://{args.host}:{args.port}/api/v2/organizations/{args.org}/members",
          file=sys.stderr)
    print(f"  token http://{args.host}:{args.port}/oauth/token "
          f"(client_id={args.client_id})", file=sys.stderr)
    try:
        serve_forever(sb.app, args.host, args.port)
    finally:
        sb.state.close()
    return 0
