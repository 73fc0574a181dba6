"""``python -m sandbox hubspot|officernd [options]``: serve one sandbox in the foreground."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"hubspot", "officernd"}:
        print("usage: python -m sandbox {hubspot,officernd} [--help]", file=sys.stderr)
        return 2
    service, rest = argv[0], argv[1:]
    if service == "hubspot":
        from sandbox.hubspot.cli import main as service_main
    else:
        from sandbox.officernd.cli import main as service_main
    return service_main(rest)


if __name__ == "__main__":
    sys.exit(main())
