"""kaizen-lab's MCP client as the conformance suite's client under test.

The suite runs ``python tests/mcp/conformance_client.py <url>`` with ``MCP_CONFORMANCE_SCENARIO`` set (and, for
some scenarios, ``MCP_CONFORMANCE_CONTEXT``: JSON such as pre-registered OAuth credentials); the client connects
through ``kaizen_lab.mcp.connect`` (headless, answering elicitation with the schema's defaults), lists the tools
and calls the ones the scenario offers. The ``auth/*`` scenarios connect with ``oauth=MCPOAuth(authorize=
"follow")``: the suite's authorization server approves without a person, so the client follows the
authorization URL itself, and then calls every tool (which is what a scope step-up is triggered by).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from kaizen_lab.mcp import MCPOAuth, connect
from kaizen_lab.models.testing import example_from_schema

CALLS = {"add_numbers": {"a": 5, "b": 3}, "test_client_elicitation_defaults": {}, "test_reconnection": {}}
#: the client-metadata URL the suite's auth/basic-cimd scenario expects as client_id
CIMD_URL = "https://conformance-test.local/client-metadata.json"


def _oauth(scenario: str) -> MCPOAuth | None:
    if not scenario.startswith("auth/"):
        return None
    context: dict[str, Any] = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    # KAIZEN_OAUTH_PORT: the browser way instead (BROWSER names the command that plays the browser)
    port = os.environ.get("KAIZEN_OAUTH_PORT")
    return MCPOAuth(client_name="kaizen-lab-conformance", authorize="browser" if port else "follow",
                    redirect_port=int(port or 33418), client_id=context.get("client_id"),
                    client_secret=context.get("client_secret"),
                    client_metadata_url=CIMD_URL if scenario == "auth/basic-cimd" else None, timeout=30)


def main(url: str) -> int:
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    oauth = _oauth(scenario)
    conn = connect(url, name=f"conformance:{scenario}", shared=False, connect_timeout=20, call_timeout=25,
                   elicitation="accept_defaults", oauth=oauth)
    try:
        for tool in conn.list_tools():
            arguments = CALLS.get(tool.name)
            if arguments is None and oauth is not None:
                arguments = example_from_schema(tool.input_schema or {"type": "object"})
            if arguments is not None:
                result = conn.call_tool(tool.name, arguments)
                print(f"{tool.name}: {'error ' if result.is_error else ''}{result.text[:200]}", file=sys.stderr)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[-1]))
