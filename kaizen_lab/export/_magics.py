"""The export's reading of kaizen-lab's magics: ``%%signature``, ``%agent NAME SIG ...`` and ``%%agent``.

Read by their syntax only, never run. Every malformed piece (an unclosed quote, a YAML body that is a list,
a mapping where text belongs, ``.inf`` retries, an alias bomb) becomes one ``ExportProblem`` naming the cell;
the YAML body is read with the size- and alias-limited loader.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kaizen_lab.errors import ConfigError

if TYPE_CHECKING:
    from kaizen_lab.export.analyze import ExportPlan

__all__ = ["agent_cell", "agent_line", "check_options", "signature_cell"]

_MAX_BODY = 100_000
_AGENT_KEYS = ("signature", "model", "tools", "instructions", "mcp", "max_retries", "memory", "timeout")


def _words(text: str, cell: int, plan: ExportPlan, what: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        plan.problem(cell, f"{what}: {str(exc).lower()}; close every quote")
        return None


def signature_cell(text: str, cell: int, plan: ExportPlan) -> None:
    header, _, body = text.partition("\n")
    words = _words(header[len("%%signature"):], cell, plan, "the %%signature line")
    if words is None:
        return
    if not words or not words[0].isidentifier():
        plan.problem(cell, "%%signature needs a NAME that is a Python name, e.g. %%signature QA")
        return
    instructions = None
    for flag in ("--instructions", "-i"):
        if flag in words:
            at = words.index(flag)
            instructions = " ".join(w for w in words[at + 1:] if not w.startswith("-")) or None
    plan.signatures[words[0]] = (cell, body, instructions)


def agent_line(line: str, cell: int, plan: ExportPlan) -> None:
    """``%agent NAME SIG [--model M] [--tools f,g] [--mcp S] [--instructions I]`` (other sub-commands run)."""
    from kaizen_lab.export.analyze import AgentDef

    first = line[len("%agent"):].split(None, 1)
    if not first or first[0] in {"run", "step", "list", "show"}:
        return  # runs an agent: nothing to export, and its inputs need not split like shell words
    words = _words(line[len("%agent"):], cell, plan, "the %agent line")
    if words is None or not words or words[0] in {"run", "step", "list", "show"} or words[0].startswith("-"):
        return
    positional: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) > 1:
            name, eq, value = word.partition("=")
            if not eq:
                value = words[i + 1] if i + 1 < len(words) else ""
                i += 1
            options[{"-m": "--model", "-t": "--tools", "-i": "--instructions"}.get(name, name)] = value
        else:
            positional.append(word)
        i += 1
    if len(positional) < 2:
        plan.problem(cell, "%agent needs NAME and SIGNATURE, e.g. %agent qa \"question -> answer\"")
        return
    agent = AgentDef(cell, positional[0])
    sig = " ".join(positional[1:])
    if "->" in sig:
        agent.signature = sig
    else:
        agent.signature_ref = sig
    agent.model = options.get("--model") or None
    agent.tools = [t.strip() for t in options.get("--tools", "").split(",") if t.strip()]
    agent.mcp = [options["--mcp"]] if options.get("--mcp") else []
    agent.instructions = options.get("--instructions") or None
    _check_agent(agent, cell, plan)


def agent_cell(text: str, cell: int, plan: ExportPlan) -> None:
    """``%%agent NAME`` with a YAML body of ``signature``, ``model``, ``tools``, ``instructions``, ..."""
    from kaizen_lab._yaml import load_yaml
    from kaizen_lab.export.analyze import AgentDef

    header, _, body = text.partition("\n")
    words = _words(header[len("%%agent"):], cell, plan, "the %%agent line")
    if words is None:
        return
    try:
        conf = load_yaml(body, where="the %%agent body", max_bytes=_MAX_BODY)
    except ConfigError as exc:
        plan.problem(cell, str(exc))
        return
    if conf is None:
        conf = {}
    if not isinstance(conf, Mapping):
        plan.problem(cell, f"the %%agent body must be a YAML mapping such as 'signature: question -> answer', "
                           f"not a {_kind(conf)}")
        return
    name = words[0] if words else conf.get("agent_id")
    if not isinstance(name, str) or not name:
        plan.problem(cell, "%%agent needs a NAME, e.g. %%agent qa")
        return
    unknown = sorted(str(k) for k in conf if k not in _AGENT_KEYS)
    if unknown:
        from kaizen_lab.errors import did_you_mean

        plan.problem(cell, f"unknown %%agent key {unknown[0]!r}{did_you_mean(unknown[0], _AGENT_KEYS)}; keys are "
                           f"{list(_AGENT_KEYS)}")
        return
    bad = [key for key in ("signature", "model", "instructions") if key in conf and not isinstance(conf[key], str)]
    if bad:
        plan.problem(cell, f"%%agent {bad[0]}: must be text, got a {_kind(conf[bad[0]])}")
        return
    agent = AgentDef(cell, name)
    sig = conf.get("signature")
    if sig is None:
        plan.problem(cell, "the %%agent body needs 'signature: question -> answer' (or a %%signature name)")
        return
    if "->" in sig:
        agent.signature = sig
    else:
        agent.signature_ref = sig.strip()
    agent.model = conf.get("model")
    agent.instructions = conf.get("instructions")
    tools, mcp = conf.get("tools") or [], conf.get("mcp") or []
    tools = [t.strip() for t in tools.split(",") if t.strip()] if isinstance(tools, str) else tools
    mcp = [mcp] if isinstance(mcp, str) else mcp
    for key, value in (("tools", tools), ("mcp", mcp)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            plan.problem(cell, f"%%agent {key}: must be a list of names (or one comma-separated string), got "
                               f"a {_kind(value)}")
            return
    agent.tools, agent.mcp = list(tools), list(mcp)
    agent.options = {k: conf[k] for k in ("max_retries", "timeout", "memory") if k in conf}
    _check_agent(agent, cell, plan)


def _check_agent(agent: Any, cell: int, plan: ExportPlan) -> None:
    reasons = check_options(agent.options)
    reasons += [f"tool {t!r} is not a Python function name" for t in agent.tools if not t.isidentifier()]
    if reasons:
        for reason in reasons:
            plan.problem(cell, f"agent {agent.agent_id!r}: {reason}")
        return
    plan.agents[agent.agent_id] = agent


def check_options(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with an agent's options (types and finite, non-negative numbers)."""
    reasons = []
    for key in ("max_retries", "max_tool_steps"):
        value = options.get(key)
        if key in options and (type(value) is not int or value < 0):
            reasons.append(f"{key} must be a whole number of 0 or more, got {value!r}")
    for key in ("timeout", "model_timeout"):
        value = options.get(key)
        if value is None:
            continue
        if type(value) not in (int, float) or not math.isfinite(value) or value <= 0:
            reasons.append(f"{key} must be a finite number of seconds above 0, got {value!r}")
    if "memory" in options and type(options["memory"]) is not bool:
        reasons.append(f"memory must be true or false, got {options['memory']!r}")
    if "adapter" in options and options["adapter"] not in ("json", "field_marker"):
        reasons.append(f"adapter must be 'json' or 'field_marker', got {options['adapter']!r}")
    return reasons


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "text", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__)
