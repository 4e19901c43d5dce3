"""kaizen-lab's MCP client as the conformance suite's client under test.

The suite runs ``python tests/mcp/conformance_client.py <url>`` with ``MCP_CONFORMANCE_SCENARIO`` set; the client
connects through ``kaizen_lab.mcp.connect`` (headless, answering elicitation with the schema's defaults),
lists the tools and calls the ones the scenario offers.
"""

from __future__ import annotations

import os
import sys

from kaizen_lab.mcp import connect

CALLS = {"add_numbers": {"a": 5, "b": 3}, "test_client_elicitation_defaults": {}, "test_reconnection": {}}


def main(url: str) -> int:
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    conn = connect(url, name=f"conformance:{scenario}", shared=False, connect_timeout=20, call_timeout=25,
                   elicitation="accept_defaults")
    try:
        for tool in conn.list_tools():
            if tool.name in CALLS:
                result = conn.call_tool(tool.name, CALLS[tool.name])
                print(f"{tool.name}: {'error ' if result.is_error else ''}{result.text[:200]}", file=sys.stderr)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[-1]))
