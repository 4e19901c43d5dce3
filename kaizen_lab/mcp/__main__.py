"""``python -m kaizen_lab.mcp serve module:agent [--http] [--port N] [--token T]`` (= ``kaizen-lab mcp serve``)."""

from __future__ import annotations

import sys

from kaizen_lab.errors import KaizenError
from kaizen_lab.mcp.server import cli_command


def main(argv: list[str] | None = None) -> int:
    try:
        return cli_command(sys.argv[1:] if argv is None else argv)
    except KaizenError as exc:
        print(f"kaizen-lab mcp: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
