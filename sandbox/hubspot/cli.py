"""``python -m sandbox hubspot [--port 8091] [--host 127.0.0.1] ...``"""

from __future__ import annotations

import argparse
import json

from sandbox.hubspot import DEFAULT_TOKEN, HubSpotSandbox
from sandbox.hubspot.faults import Faults


def _fault_settings(text: str) -> dict:
    try:
        cfg = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(cfg, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    try:
        Faults().configure(cfg)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return cfg


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox hubspot",
                                description="Serve the local HubSpot CRM API sandbox.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8091, help="port (default 8091)")
    p.add_argument("--token", default=DEFAULT_TOKEN,
                   help=f"accepted private-app bearer token (default {DEFAULT_TOKEN})")
    p.add_argument("--burst-limit", type=int, default=190,
                   help="requests per rolling 10 s per token (default 190, 0 = off)")
    p.add_argument("--search-limit", type=int, default=5,
                   help="search requests per second (default 5, 0 = off)")
    p.add_argument("--daily-limit", type=int, default=0,
                   help="requests per UTC day (default 0 = off; HubSpot Pro: 625000)")
    p.add_argument("--search-lag-ms", type=int, default=0,
                   help="search index lag after writes, in ms (default 0)")
    p.add_argument("--faults", type=_fault_settings, default=None, metavar="JSON",
                   help='injected faults, as for POST /_sandbox/faults, e.g. '
                        '\'{"lost_drop_rate": 0.05, "hang_rate": 0.02, "seed": 1}\' '
                        "(default: none)")
    p.add_argument("--state", default=None, metavar="FILE",
                   help="persist to this SQLite file (default: in memory)")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from sandbox._server import serve_forever

    sb = HubSpotSandbox(port=args.port, token=args.token, burst_limit=args.burst_limit,
                        search_limit=args.search_limit, daily_limit=args.daily_limit,
                        search_lag_ms=args.search_lag_ms, state_file=args.state, host=args.host,
                        faults=args.faults)
    print(f"HubSpot sandbox on http://{args.host}:{args.port} (token {args.token!r}"
          f"{', state ' + args.state if args.state else ', in memory'})", flush=True)
    try:
        serve_forever(sb.app, args.host, args.port)
    finally:
        sb.stop()
    return 0
