"""Compile signatures and agents to Kailash ``WorkflowBuilder``s: input → model → output.

The three nodes are registered kaizen-lab nodes wired with ``add_connection``; their config is JSON (plus a
live agent reference in-process), so the built workflow runs on ``LocalRuntime`` and serialises with
``Workflow.to_dict()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab.runtime.nodes import agent_config

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.signatures.signature import Signature

__all__ = ["INPUT_NODE", "MODEL_NODE", "OUTPUT_NODE", "add_agent_steps", "agent_workflow_key", "cached_workflow",
           "compile_agent", "compile_signature"]

INPUT_NODE, MODEL_NODE, OUTPUT_NODE = "input", "model", "output"


def add_agent_steps(builder: WorkflowBuilder, agent: Agent, *, prefix: str = "", live: bool = True) -> tuple[str, str]:
    """Add the three step nodes of ``agent`` to ``builder``; returns (input node id, output node id)."""
    config = agent_config(agent, live=live)
    ids = tuple(f"{prefix}{name}" for name in (INPUT_NODE, MODEL_NODE, OUTPUT_NODE))
    builder.add_node("KaizenInputNode", ids[0], dict(config))
    builder.add_node("KaizenModelNode", ids[1], dict(config))
    builder.add_node("KaizenOutputNode", ids[2], dict(config))
    builder.add_connection(ids[0], "inputs", ids[1], "kaizen_inputs")
    builder.add_connection(ids[1], "raw", ids[2], "kaizen_raw")
    return ids[0], ids[2]


def compile_agent(agent: Agent, *, live: bool = True) -> WorkflowBuilder:
    """The agent's workflow: ``input`` (validate) → ``model`` → ``output`` (validated fields)."""
    builder = WorkflowBuilder()
    add_agent_steps(builder, agent, live=live)
    return builder


def agent_workflow_key(agent: Agent) -> tuple[Any, ...]:
    """What an agent's compiled workflow is built from (its node config); the workflow is rebuilt when it
    changes. Tools, memory and a model object are read from the live agent at run time, so they need no
    rebuild."""
    return (agent.agent_id, id(agent.signature), agent.signature, agent.model_spec, agent.max_retries,
            agent.adapter.name)


def cached_workflow(owner: Any, key: Any, build: Callable[[], Any]) -> Any:
    """The built workflow cached on ``owner`` (an agent or pattern) under ``key``; rebuilt when ``key`` changes.

    Holding ``key`` keeps the objects it names alive, so an ``id()`` in it cannot be reused by another object.
    """
    cached = owner.__dict__.get("_kaizen_compiled")
    if cached is not None and cached[0] == key:
        return cached[1]
    workflow = build()
    owner.__dict__["_kaizen_compiled"] = (key, workflow)
    return workflow


def compiled_agent_workflow(agent: Agent) -> Any:
    """``compile_agent(agent).build()``, built once and reused until the agent's config changes."""
    return cached_workflow(agent, agent_workflow_key(agent), lambda: compile_agent(agent).build())


def compile_signature(signature: Signature, *, model: Any = "test", agent_id: str = "signature",
                      **agent_options: Any) -> WorkflowBuilder:
    """Compile a bare signature with a model (string or object) into a three-node workflow."""
    from kaizen_lab.agents.agent import Agent

    return compile_agent(Agent(agent_id, signature, model=model, **agent_options))
