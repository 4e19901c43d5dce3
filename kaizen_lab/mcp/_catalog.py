"""What a server will complete: for every prompt argument and every resource-template variable, the values
``completion/complete`` offers for an empty prefix. The MCP discovery panel shows them beside the prompts and
templates, so a notebook user sees what to type before typing it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kaizen_lab.errors import MCPError

if TYPE_CHECKING:
    from kaizen_lab.mcp.client import MCPConnection

__all__ = ["completion_catalog", "template_variables"]

_EXPRESSION = re.compile(r"\{([+#./;?&]?)([^}]*)\}")


def template_variables(uri_template: str) -> list[str]:
    """The variable names of an RFC 6570 URI template, in order (``{id}``, ``{+path}``, ``{?q,page*}``...)."""
    names: list[str] = []
    for _, body in _EXPRESSION.findall(uri_template):
        for part in body.split(","):
            name = part.strip().rstrip("*").split(":", 1)[0]
            if name and name not in names:
                names.append(name)
    return names


async def completion_catalog(conn: MCPConnection, *, limit: int = 20) -> dict[str, dict[str, list[str]]]:
    """Ask ``completion/complete`` (empty prefix) for each prompt argument and template variable; keeps the
    answers (at most ``limit`` values each) in ``conn.completions`` and returns them. A server without the
    ``completions`` capability gets no requests; an argument the server refuses is left out."""
    if "completions" not in conn.capabilities:
        return {}
    wanted: list[tuple[str, str]] = []
    if "prompts" in conn.capabilities:
        for prompt in await conn.alist_prompts():
            wanted += [(f"prompt:{prompt['name']}", arg) for arg in prompt["arguments"]]
    if "resources" in conn.capabilities:
        for template in await conn.alist_resource_templates():
            uri = str(template["uri_template"])
            wanted += [(f"resource:{uri}", var) for var in template_variables(uri)]
    for ref, argument in wanted:
        try:
            await conn.acomplete(ref, argument, "")
        except MCPError:
            continue  # a server may complete some arguments only; the others stay unlisted
    return {ref: {arg: values[:limit] for arg, values in args.items()} for ref, args in conn.completions.items()}

