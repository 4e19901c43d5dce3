"""MCP tool-discovery panel: servers → tools, with status, transport, latency, last error, schemas and users;
and servers → prompts and resource templates, with the completion values of their arguments.

Built from plain data so any source can feed it: each server is a mapping or object with ``name``,
``transport``, ``status`` (``up``/``down``/``unknown``), ``latency_ms``, ``last_error`` and ``tools`` (each
with ``name``, ``description``, ``input_schema``), optionally ``prompts`` (``name``, ``description``,
``arguments``), ``resource_templates`` (``uri_template``) and ``completions`` (``{"prompt:NAME" |
"resource:TEMPLATE": {argument: [values]}}``, what ``MCPConnection.completion_catalog()`` gathers);
``agents`` maps agent id → tool names it uses.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

from kaizen_lab.notebook.theme import plotly_template

__all__ = ["SERVER_STATUS_COLORS", "mcp_figure"]

SERVER_STATUS_COLORS = {"up": "#43a047", "connected": "#43a047", "down": "#e53935", "error": "#e53935",
                        "unknown": "#bdbdbd"}


def _get(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, Mapping) else getattr(item, name, default)


def _schema_text(schema: Any) -> str:
    props = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or ())
    if not props:
        return "(no arguments)"
    return "<br>".join(f"  {k}{'*' if k in required else ''}: {v.get('type', 'any') if isinstance(v, dict) else v}"
                       for k, v in props.items())


def _e(value: Any) -> str:
    # server-provided text is shown, never interpreted as markup
    return html.escape(str(value or ""), quote=False)


def _completion_lines(arguments: Iterable[str], values: Mapping[str, Any], shown: int = 8) -> list[str]:
    lines = []
    for arg in arguments:
        offered = [str(v) for v in values.get(arg) or ()]
        if not offered:
            lines.append(f"  {_e(arg)}: (no completion values)")
            continue
        more = f" … (+{len(offered) - shown})" if len(offered) > shown else ""
        lines.append(f"  {_e(arg)} → {_e(', '.join(offered[:shown]))}{more}")
    return lines or ["  (no arguments)"]


def mcp_figure(servers: Iterable[Any], agents: Mapping[str, Iterable[str]] | None = None, *,
               title: str = "MCP tools") -> go.Figure:
    """A treemap: root → server → tools, prompts and resource templates. Hover shows status, transport,
    latency, last error, the input schema and the agents using each tool, and the completion values of each
    prompt's and template's arguments; ``layout.meta`` carries the same data as plain dicts."""
    users: dict[str, list[str]] = {}
    for agent_id, tools in (agents or {}).items():
        for tool in tools:
            users.setdefault(tool, []).append(agent_id)
    ids, labels, parents, colours, hover = ["mcp"], ["MCP servers"], [""], ["rgba(0,0,0,0)"], ["MCP servers"]
    meta: list[dict[str, Any]] = []
    for server in servers:
        name = str(_get(server, "name"))
        status = str(_get(server, "status", "unknown"))
        latency = _get(server, "latency_ms")
        error = _get(server, "last_error")
        tools = list(_get(server, "tools", ()) or ())
        capabilities = list(_get(server, "capabilities", ()) or ())
        offers = dict(_get(server, "client_offers", {}) or {})
        seen = dict(_get(server, "content_types", {}) or {})
        templates = list(_get(server, "resource_templates", ()) or ())
        prompts = list(_get(server, "prompts", ()) or ())
        completions = {str(ref): dict(args or {}) for ref, args in (_get(server, "completions", {}) or {}).items()}
        sid = f"server:{name}"
        ids.append(sid)
        labels.append(name)
        parents.append("mcp")
        colours.append(SERVER_STATUS_COLORS.get(status, "#bdbdbd"))
        hover.append("<br>".join([f"<b>{name}</b>", f"status: {status}",
                                  f"transport: {_get(server, 'transport', '?')}",
                                  f"latency: {latency:.1f} ms" if latency is not None else "latency: -",
                                  f"last error: {error or '-'}", f"tools: {len(tools)}",
                                  f"capabilities: {', '.join(map(str, capabilities)) or '-'}",
                                  f"we answer: sampling {offers.get('sampling', '-')}, elicitation "
                                  f"{offers.get('elicitation', '-')}",
                                  f"resource templates: {', '.join(str(_get(t, 'uri_template')) for t in templates) or '-'}",
                                  "content seen: " + (", ".join(f"{k} ×{v}" for k, v in seen.items()) or "-"),
                                  f"prompts: {len(prompts)}; arguments with completion values: "
                                  f"{sum(1 for args in completions.values() for v in args.values() if v)}"]))
        entry: dict[str, Any] = {"name": name, "status": status, "transport": _get(server, "transport"),
                                 "latency_ms": latency, "last_error": error, "capabilities": capabilities,
                                 "client_offers": offers, "content_types": seen,
                                 "resource_templates": [str(_get(t, "uri_template")) for t in templates],
                                 "prompts": [], "completions": completions, "tools": []}
        for tool in tools:
            tname = str(_get(tool, "name"))
            schema = _get(tool, "input_schema") or _get(tool, "inputSchema") or {}
            used_by = users.get(tname, []) + users.get(f"{name}.{tname}", [])
            ids.append(f"{sid}/{tname}")
            labels.append(tname)
            parents.append(sid)
            colours.append("#90caf9" if used_by else "#e3f2fd")
            hover.append("<br>".join([f"<b>{tname}</b> ({name})", str(_get(tool, "description") or ""),
                                      "input schema:", _schema_text(schema),
                                      f"used by: {', '.join(used_by) or 'no agent'}"]))
            entry["tools"].append({"name": tname, "input_schema": json.loads(json.dumps(schema, default=str)),
                                   "used_by": used_by})
        for prompt in prompts:
            pname = str(_get(prompt, "name"))
            arguments = [str(a) for a in _get(prompt, "arguments", ()) or ()]
            values = completions.get(f"prompt:{pname}", {})
            ids.append(f"{sid}/prompt:{pname}")
            labels.append(f"prompt {pname}")
            parents.append(sid)
            colours.append("#ffe0b2")
            hover.append("<br>".join([f"<b>prompt {_e(pname)}</b> ({name})", _e(_get(prompt, "description")),
                                      "arguments:",
                                      *_completion_lines(arguments, values)]))
            entry["prompts"].append({"name": pname, "arguments": arguments,
                                     "completions": {a: list(values.get(a) or ()) for a in arguments}})
        for template in templates:
            uri = str(_get(template, "uri_template"))
            values = completions.get(f"resource:{uri}", {})
            ids.append(f"{sid}/template:{uri}")
            labels.append(uri)
            parents.append(sid)
            colours.append("#e1bee7")
            hover.append("<br>".join([f"<b>resource template</b> {_e(uri)} ({name})",
                                      _e(_get(template, "description")), "arguments:",
                                      *_completion_lines(dict.fromkeys([*(_get(template, "variables") or ()),
                                                                        *values]), values)]))
        meta.append(entry)
    fig = go.Figure(go.Treemap(ids=ids, labels=labels, parents=parents, marker={"colors": colours},
                               hovertext=hover, hoverinfo="text", root={"color": "rgba(0,0,0,0)"},
                               name="mcp"))
    fig.update_layout(template=plotly_template(), title=title, height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      meta={"servers": meta})
    return fig
