"""Registered Kailash nodes that run the agent step functions (ARCHITECTURE idea 1).

- ``KaizenInputNode``: validate inputs (one parameter per signature input field);
- ``KaizenModelNode``: format → model (→ tools)* → parse, with retries;
- ``KaizenOutputNode``: validate outputs (its results are the typed output fields);
- ``KaizenAgentNode``: the whole agent in one node, for composing agents in larger workflows.

Node config is JSON (signature text, model string, agent id) so workflows serialise and export. Inside one
process a node may also point at a live ``Agent`` through ``kaizen_agent_ref`` (its tools, memory and model
objects). Every parameter of kaizen-lab's own is prefixed ``kaizen_`` so that no signature field name (``model``,
``inputs``, ``signature`` ...) can collide with it. Each node takes an optional ``kaizen_run_id`` parameter,
passed flat by ``run_workflow``, so its events join the run they belong to.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kailash.nodes.base import Node, NodeParameter, register_node

from kaizen_lab import events as ev
from kaizen_lab._aio import run_sync
from kaizen_lab.agents import _loop

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.signatures.signature import Signature

__all__ = ["REF_KEY", "KaizenAgentNode", "KaizenInputNode", "KaizenModelNode", "KaizenNode", "KaizenOutputNode",
           "agent_config", "agent_node", "node_parameter", "register_live_agent", "signature_node"]

REF_KEY = "kaizen_agent_ref"
#: live agents by reference; strong references (a compiled workflow must not lose its agent), bounded
_LIVE: OrderedDict[str, Agent] = OrderedDict()
_LIVE_MAX = 4096


def register_live_agent(agent: Agent) -> str:
    """Make ``agent`` reachable from node configs in this process; returns its reference."""
    ref = f"{agent.agent_id}@{id(agent):x}"
    _LIVE[ref] = agent
    _LIVE.move_to_end(ref)
    while len(_LIVE) > _LIVE_MAX:
        _LIVE.popitem(last=False)
    return ref


def agent_config(agent: Agent, *, live: bool = True) -> dict[str, Any]:
    """The JSON node config describing ``agent`` (plus a live reference unless ``live=False``)."""
    config: dict[str, Any] = {"kaizen_agent_id": agent.agent_id, "kaizen_signature": agent.signature.to_dict(),
                              "kaizen_max_retries": agent.max_retries, "kaizen_adapter": agent.adapter.name}
    if agent.model_spec:
        config["kaizen_model"] = agent.model_spec
    if live:
        config[REF_KEY] = register_live_agent(agent)
    return config


_CONFIG_PARAMS = {
    "kaizen_agent_id": (str, "signature"),
    "kaizen_signature": (dict, None),
    "kaizen_model": (str, ""),
    REF_KEY: (str, ""),
    "kaizen_max_retries": (int, 2),
    "kaizen_adapter": (str, "json"),
    "kaizen_run_id": (str, ""),
}


def node_parameter(name: str, tp: type, default: Any = None, *, required: bool = False,
                   description: str = "") -> NodeParameter:
    """A Kailash parameter of a kaizen-lab node (described as ``kaizen-lab NAME`` unless told otherwise)."""
    return NodeParameter(name=name, type=tp, required=required, default=default,
                         description=description or f"kaizen-lab {name}")


#: built once per process: the parameters every kaizen-lab node shares
_CONFIG_PARAMETERS = {name: node_parameter(name, tp, default) for name, (tp, default) in _CONFIG_PARAMS.items()}


class KaizenNode(Node):
    """The base of nodes that run an agent (the runtime's step nodes and the patterns' nodes).

    Shared config handling: resolve the agent (live or rebuilt from JSON) once per node instance.

    Kailash asks a node for its parameters on every run; they are built once per node and signature. Under
    ``LocalRuntime`` (which runs nodes inside its own event loop) the step nodes' ``execute_async`` awaits the
    step functions on that loop instead of hopping to kaizen-lab's background loop thread.
    """

    def _config_parameters(self) -> dict[str, NodeParameter]:
        return dict(_CONFIG_PARAMETERS)

    def _build_parameters(self) -> dict[str, NodeParameter]:
        raise NotImplementedError

    def get_parameters(self) -> dict[str, NodeParameter]:
        return self._plan()[1]

    def _plan(self) -> tuple[Any, dict[str, NodeParameter], tuple[str, ...], tuple[str, ...], tuple[Any, ...]]:
        """The parameters and what ``_inputs`` needs from them (names, required ones, defaults), built once per
        node and signature: Kailash asks for them several times per run."""
        d = self.__dict__
        signature = (d.get("_kaizen_agent") or self._agent()).signature
        cached = d.get("_kaizen_params")
        if cached is not None and cached[0] is signature:
            return cached  # type: ignore[no-any-return]
        params = self._build_parameters()
        plan = (signature, params, tuple(params), tuple(n for n, p in params.items() if p.required),
                tuple((n, p.default) for n, p in params.items() if not p.required and p.default is not None))
        d["_kaizen_params"] = plan
        return plan

    def validate_outputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        # values were validated against the signature already; dates, enums and pydantic models are fine here
        return outputs

    def _agent(self) -> Agent:
        cached = self.__dict__.get("_kaizen_agent")
        if cached is not None:
            return cached
        ref = self.config.get(REF_KEY) or ""
        agent = _LIVE.get(ref) if ref else None
        if agent is None:
            agent = _agent_from_config(self.config)
        self.__dict__["_kaizen_agent"] = agent
        return agent

    def _signature(self) -> Signature:
        return self._agent().signature

    def _state(self, run_id: str | None) -> _loop.RunState:
        agent = self._agent()
        return _loop.RunState(run_id or ev.new_id(), agent.agent_id, agent.model_label)


class _AwaitedNode(KaizenNode):
    """A step node whose work is a coroutine: awaited on the runtime's loop when there is one."""

    async def _arun(self, **kwargs: Any) -> dict[str, Any]:
        return self.run(**kwargs)

    async def execute_async(self, **runtime_inputs: Any) -> dict[str, Any]:
        """``Node.execute`` (config merged, inputs checked, errors wrapped alike) with the run awaited."""
        from kailash.sdk_exceptions import NodeExecutionError, NodeValidationError

        try:
            validated = self._inputs({**self.config, **runtime_inputs})
            return self.validate_outputs(await self._arun(**validated))
        except (NodeValidationError, NodeExecutionError):
            raise
        except Exception as exc:
            raise NodeExecutionError(f"Node '{self.id}' execution failed: {type(exc).__name__}: {exc}") from exc

    def _inputs(self, merged: Mapping[str, Any]) -> dict[str, Any]:
        """The declared parameters from ``merged``, defaults filled in, required ones checked.

        What Kailash's generic ``validate_inputs`` does for these nodes, without its per-run schema walk (the
        values themselves are validated against the signature by the step functions). Kailash has already
        checked the workflow's required inputs before any node runs.
        """
        from kailash.sdk_exceptions import NodeValidationError

        _, _, names, required, defaults = self._plan()
        out = {name: merged[name] for name in names if name in merged}
        for name in required:
            if name not in out:
                raise NodeValidationError(f"Node '{self.id}' is missing the required input {name!r}")
        for name, default in defaults:
            if name not in out:
                out[name] = type(default)(default) if isinstance(default, dict | list) else default
        return out


_FROM_CONFIG: OrderedDict[str, Agent] = OrderedDict()


def _agent_from_config(config: Mapping[str, Any]) -> Agent:
    """The agent a JSON node config describes; rebuilt once per distinct config (workers run many tasks)."""
    import json

    key = json.dumps({k: v for k, v in config.items() if k.startswith("kaizen_") and k not in (REF_KEY, "kaizen_run_id")},
                     sort_keys=True, default=str)
    agent = _FROM_CONFIG.get(key)
    if agent is None:
        agent = _FROM_CONFIG[key] = _build_agent(config)
        while len(_FROM_CONFIG) > 256:
            _FROM_CONFIG.popitem(last=False)
    return agent


def _build_agent(config: Mapping[str, Any]) -> Agent:
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.errors import UserError
    from kaizen_lab.signatures.signature import Signature

    data = config.get("kaizen_signature")
    if not data:
        raise UserError("a kaizen-lab node needs 'kaizen_signature' in its config (use agent_config(agent))")
    return Agent(config.get("kaizen_agent_id") or "signature", Signature.from_dict(data),
                 model=config.get("kaizen_model") or None, max_retries=int(config.get("kaizen_max_retries", 2)),
                 adapter=config.get("kaizen_adapter") or "json")


def _input_parameters(signature: Signature) -> dict[str, NodeParameter]:
    return {f.name: NodeParameter(name=f.name, type=Any, required=f.required,
                                  default=None if f.required else f.default, description=f.description or f.name)
            for f in signature.input_fields}


@register_node()
class KaizenInputNode(_AwaitedNode):
    """Validate and coerce the signature's inputs."""

    def _build_parameters(self) -> dict[str, NodeParameter]:
        return {**self._config_parameters(), **_input_parameters(self._signature())}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        signature = self._signature()
        state = self._state(kwargs.get("kaizen_run_id"))
        values = {k: kwargs[k] for k in signature.input_names if k in kwargs}
        return {"inputs": _loop.step_validate_inputs(state, signature, values)}


@register_node()
class KaizenModelNode(_AwaitedNode):
    """Format the prompt, call the model (and tools), parse the answer; retry on unparseable answers."""

    def _build_parameters(self) -> dict[str, NodeParameter]:
        return {**self._config_parameters(),
                "kaizen_inputs": node_parameter("kaizen_inputs", dict, required=True, description="validated inputs"),
                "kaizen_history": node_parameter("kaizen_history", list, [], description="earlier turns as {role, content}")}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return run_sync(self._arun(**kwargs))

    async def _arun(self, **kwargs: Any) -> dict[str, Any]:
        from kaizen_lab.messages import Message

        agent = self._agent()
        state = self._state(kwargs.get("kaizen_run_id"))
        history = [Message(m["role"], m["content"]) for m in kwargs.get("kaizen_history") or ()]
        parsed, text = await _loop.model_phase(state, agent, kwargs["kaizen_inputs"], history)
        return {"raw": parsed, "text": text,
                "usage": {"input_tokens": state.input_tokens, "output_tokens": state.output_tokens,
                          "cost": state.cost, "model_calls": state.model_calls, "retries": state.retries,
                          "tool_calls": state.tool_calls, "cache_hits": state.cache_hits,
                          "answer_logprob": state.answer_logprob}}


@register_node()
class KaizenOutputNode(_AwaitedNode):
    """Validate the model's parsed answer against the output types; the results are the output fields."""

    def _build_parameters(self) -> dict[str, NodeParameter]:
        return {**self._config_parameters(),
                "kaizen_raw": node_parameter("kaizen_raw", dict, required=True, description="parsed model output")}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        state = self._state(kwargs.get("kaizen_run_id"))
        return _loop.step_validate_outputs(state, self._signature(), kwargs["kaizen_raw"])


@register_node()
class KaizenAgentNode(_AwaitedNode):
    """A whole agent run in one node. Inputs arrive as fields or as one ``inputs`` dict."""

    def _build_parameters(self) -> dict[str, NodeParameter]:
        params = {**self._config_parameters(), **_input_parameters(self._signature()),
                  "kaizen_inputs": node_parameter("kaizen_inputs", dict, {}, description="all inputs as one dict"),
                  "kaizen_session": node_parameter("kaizen_session", str, "", description="conversation id (memory)")}
        for f in self._signature().input_fields:  # either the field or the dict may supply it
            params[f.name].required = False
        return params

    def run(self, **kwargs: Any) -> dict[str, Any]:
        return run_sync(self._arun(**kwargs))

    async def _arun(self, **kwargs: Any) -> dict[str, Any]:
        agent = self._agent()
        signature = agent.signature
        values = dict(kwargs.get("kaizen_inputs") or {})
        values.update({k: kwargs[k] for k in signature.input_names if kwargs.get(k) is not None})
        parent = kwargs.get("kaizen_run_id") or None
        run_id = ev.new_id()
        result = await _loop.run_agent(agent, values, session=kwargs.get("kaizen_session") or None,
                                       run_id=run_id, parent_run_id=parent)
        if parent:
            ev.forward(parent, result.events)  # the sub-run's events also belong to the parent run
        return {**result.data, "kaizen": {"run_id": result.run_id, **result.metadata.to_dict()}}


def agent_node(agent: Agent, node_id: str) -> KaizenAgentNode:
    """A ``KaizenAgentNode`` instance bound to ``agent`` (for ``WorkflowBuilder.add_node_instance``)."""
    node = KaizenAgentNode(_node_id=node_id, **agent_config(agent))
    node.__dict__["_kaizen_agent"] = agent
    return node


def signature_node(signature: Signature, *, node_id: str, model: Any = "test") -> KaizenAgentNode:
    """A node running ``signature`` with ``model`` (a string, or a model object used in-process)."""
    from kaizen_lab.agents.agent import Agent

    return agent_node(Agent(node_id, signature, model=model), node_id)
