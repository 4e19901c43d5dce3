"""The ``Kaizen`` facade: one object holding the configuration and the agents built from it.

Constructing it only validates the configuration (no Kailash, MCP, IPython or plotly import), so it is cheap
enough to create per notebook cell. Each capability imports its implementation inside the method, which keeps
the facade thin and lets every area add its own methods without touching the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from kaizen_lab.config import KaizenConfig, load_config
from kaizen_lab.errors import UserError, did_you_mean

if TYPE_CHECKING:
    from kaizen_lab.agents import Agent
    from kaizen_lab.patterns import ConsensusPattern, DebatePattern, PipelinePattern, SupervisorPattern
    from kaizen_lab.signatures import Signature
    from kaizen_lab.tracing.monitor import TransparencyMonitor

#: what the pattern and deployment methods accept for an agent: the Agent, its id here, or its config dict
AgentRef: TypeAlias = "Agent | str | Mapping[str, Any]"

__all__ = ["Kaizen"]


class Kaizen:
    """Entry point of the framework: configuration, signatures and agents.

    Args:
        config: a ``KaizenConfig``, a dict, a YAML/JSON path or text, or ``None`` for defaults plus the
            ``KAIZEN_*`` environment (see ``kaizen_lab.config.load_config``).
        **overrides: top-level settings that win over ``config`` and the environment, e.g. ``debug=True``.

    Example:
        >>> kaizen = Kaizen(debug=True)
        >>> kaizen.config.debug
        True
    """

    def __init__(self, config: KaizenConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
                 **overrides: Any) -> None:
        self.config: KaizenConfig = load_config(config, overrides=overrides or None)
        self.agents: dict[str, Agent] = {}

    def __repr__(self) -> str:
        return f"Kaizen(agents={sorted(self.agents)!r}, default_model={self.config.default_model!r})"

    # ----------------------------------------------------------------------------------------- signatures

    def create_signature(self, spec: str, description: str = "",
                         namespace: Mapping[str, Any] | None = None) -> Signature:
        """Parse a signature such as ``"question: str -> answer: str, confidence: float"``.

        Args:
            spec: the signature text (one line, or one field per line).
            description: instructions for the model (the signature's docstring).
            namespace: names the field types may refer to (e.g. a notebook's ``globals()``).

        Raises:
            SignatureError: the text does not parse; the message points at the column.
        """
        from kaizen_lab.signatures import Signature

        return Signature.parse(spec, namespace, instructions=description or None)

    # ----------------------------------------------------------------------------------------- agents

    def create_agent(self, agent_id: str, signature: Any = None, **config: Any) -> Agent:
        """Create an agent, remember it under ``agent_id`` and return it.

        Args:
            agent_id: unique name, used in traces and by ``get_agent``.
            signature: a signature string, ``Signature``, signature class or function (``None``:
                ``question: str -> answer: str``, whose input may also be passed as ``task=``); or a dict of
                agent options (the roadmap's ``create_agent(name, config)``).
            **config: agent options such as ``model="test"``, ``tools=[...]``, ``memory=True``, or all of
                them as one dict in ``config={...}``. Model settings (``temperature``, ``max_tokens``,
                ``top_p``, ``seed``, ``stop``) and ``signature`` may be among them.

        Raises:
            UserError: ``agent_id`` is empty or already used, or an option is unknown.
        """
        if not isinstance(agent_id, str) or not agent_id.strip():
            raise UserError(f"agent_id must be a non-empty string, got {agent_id!r}")
        if agent_id in self.agents:
            raise UserError(f"an agent named {agent_id!r} already exists; pick another id or use "
                            f"kaizen.get_agent({agent_id!r})")
        from kaizen_lab.agents import Agent

        signature, options = _agent_options(signature, config)
        agent = Agent(agent_id, signature, config=self.config, **options)
        self._start_audit()
        self.agents[agent_id] = agent
        return agent

    def get_agent(self, agent_id: str) -> Agent:
        """The agent created under ``agent_id``.

        Raises:
            UserError: no such agent (the message suggests the closest id).
        """
        try:
            return self.agents[agent_id]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "none yet"
            raise UserError(f"no agent named {agent_id!r}{did_you_mean(agent_id, self.agents)}; "
                            f"agents: {known}") from None

    def remove_agent(self, agent_id: str) -> None:
        """Forget the agent created under ``agent_id`` (so the id can be reused)."""
        self.get_agent(agent_id)
        del self.agents[agent_id]

    # ----------------------------------------------------------------------------------------- patterns

    def _agents(self, items: Iterable[AgentRef]) -> list[Agent]:
        from kaizen_lab.agents import Agent

        agents = []
        for item in items:
            if isinstance(item, Agent):
                agents.append(item)
            elif isinstance(item, str):
                agents.append(self.get_agent(item))
            elif isinstance(item, Mapping):
                spec = dict(item)
                agent_id = spec.pop("agent_id", None) or spec.pop("id", None)
                if not agent_id:
                    raise UserError(f"an agent config needs 'agent_id', got keys {sorted(item)}")
                agents.append(self.agents.get(agent_id) or self.create_agent(agent_id, **spec))
            else:
                raise UserError(f"expected an Agent, an agent id or a config dict, got {type(item).__name__}")
        return agents

    def debate(self, agents: Iterable[AgentRef], judge: AgentRef | None = None, *, rounds: int = 3,
               **options: Any) -> DebatePattern:
        """A ``DebatePattern`` over ``agents`` (Agents, ids or config dicts); ``.run(topic)`` runs it."""
        from kaizen_lab.patterns import DebatePattern

        judge_agent = self._agents([judge])[0] if judge is not None else None
        return DebatePattern(self._agents(agents), judge_agent, rounds=rounds, **options)

    def pipeline(self, agent_configs: Iterable[Any], **options: Any) -> PipelinePattern:
        """A ``PipelinePattern`` over ``agent_configs``; ``.run(**inputs)`` runs it."""
        from kaizen_lab.patterns import PipelinePattern

        steps: list[Any] = []
        for item in agent_configs:
            if isinstance(item, tuple):
                steps.append((self._agents([item[0]])[0], item[1]))
            else:
                steps.append(self._agents([item])[0])
        return PipelinePattern(steps, **options)

    def consensus(self, agents: Iterable[AgentRef], **options: Any) -> ConsensusPattern:
        """A ``ConsensusPattern`` (``decision_criteria`` = majority | weighted | unanimous, ...)."""
        from kaizen_lab.patterns import ConsensusPattern

        return ConsensusPattern(self._agents(agents), **options)

    def supervisor(self, workers: Mapping[str, AgentRef], router: AgentRef | None = None,
                   **options: Any) -> SupervisorPattern:
        """A ``SupervisorPattern`` routing tasks to ``workers`` (name → Agent or id)."""
        from kaizen_lab.patterns import SupervisorPattern

        resolved = {name: self._agents([w])[0] for name, w in workers.items()}
        router_agent = self._agents([router])[0] if router is not None else None
        options.setdefault("model", self.config.default_model)
        return SupervisorPattern(resolved, router_agent, **options)

    def create_debate_workflow(self, agents: Iterable[AgentRef], topic: str, rounds: int = 3,
                               judge: AgentRef | None = None) -> Any:
        """The debate as a Kailash ``Workflow`` (rounds are a Kailash cycle; topic preset)."""
        return self.debate(agents, judge, rounds=rounds).build_workflow(topic)

    def create_pipeline(self, agent_configs: Any) -> Any:
        """The pipeline as a Kailash ``WorkflowBuilder`` (inputs go to the ``inputs`` node's ``values``).

        Steps are Agents, ids, config dicts, ``(agent or existing id, {input: earlier_field})``, or the
        roadmap's ``(name, config)`` pairs, where ``name`` is not an agent yet: the agent is created from
        the config dict, and when it has one input that the previous step's outputs don't name, it takes the
        previous step's first output (as the roadmap connects each step to the one before): default agents
        (``question -> answer``) chain, each answering the one before.
        """
        steps: list[Any] = []
        previous: Agent | None = None
        for item in agent_configs:
            mapping: dict[str, str] = {}
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) \
                    and item[0] not in self.agents and isinstance(item[1], Mapping):
                agent = self.create_agent(item[0], dict(item[1]))
                inputs = agent.signature.input_names
                if previous is not None and len(inputs) == 1 and inputs[0] not in previous.signature.output_names:
                    mapping = {inputs[0]: previous.signature.output_names[0]}
            elif isinstance(item, tuple):
                agent, mapping = self._agents([item[0]])[0], dict(item[1])
            else:
                agent = self._agents([item])[0]
            steps.append((agent, mapping) if mapping else agent)
            previous = agent
        return self.pipeline(steps).to_workflow()

    def create_consensus_workflow(self, agents: Iterable[AgentRef], **config: Any) -> Any:
        """The consensus as a Kailash ``WorkflowBuilder`` (parallel agents → ``aggregate``)."""
        return self.consensus(agents, **config).to_workflow()

    # ----------------------------------------------------------------------------------------- transparency

    def get_transparency_interface(self, *, store: Any = None) -> TransparencyMonitor:
        """The ``TransparencyMonitor`` of this Kaizen (one per instance; traces go to ``tracing.store_path``).

        Args:
            store: where runs are stored (a ``RunStore``, a path or ``":memory:"``); default from the config.
        """
        monitor = self.__dict__.get("_monitor")
        if monitor is None:
            from kaizen_lab.tracing.monitor import TransparencyMonitor

            monitor = TransparencyMonitor(store=store, config=self.config)
            self.__dict__["_monitor"] = monitor
        return monitor

    # ----------------------------------------------------------------------------------------- security

    def _start_audit(self) -> None:
        """With ``security.audit_logging`` on, every agent run and tool call goes to the audit trail."""
        if self.config.security.audit_logging and "_audit_stop" not in self.__dict__:
            self.__dict__["_audit_stop"] = self.security.audit_events()

    def close(self) -> None:
        """Stop auditing runs (when it was on); the agents stay usable."""
        stop = self.__dict__.pop("_audit_stop", None)
        if stop is not None:
            stop()

    @property
    def security_manager(self) -> Any:
        """The roadmap's name for ``security``."""
        return self.security

    @property
    def security_config(self) -> Any:
        """The roadmap's name for ``config.security``."""
        return self.config.security

    @property
    def security(self) -> Any:
        """The ``KaizenSecurityManager`` for this configuration's ``security`` section (one per instance)."""
        manager = self.__dict__.get("_security")
        if manager is None:
            from kaizen_lab.security import KaizenSecurityManager

            manager = KaizenSecurityManager(self.config.security)
            self.__dict__["_security"] = manager
        return manager

    # ----------------------------------------------------------------------------------------- deployment

    def deploy_agent(self, agent: AgentRef, channels: Any = ("api", "cli", "mcp"), **options: Any) -> Any:
        """Serve one agent (an Agent or its id) on the API, CLI and MCP channels; returns a ``Deployment``.

        Options: ``host`` (default 127.0.0.1), ``port``, ``mcp_port``, ``auth`` (a ``KaizenSecurityManager`` or
        security config; default: this configuration's security plus a generated admin API key),
        ``persistence`` (a store URL, or ``True`` for the configured store). See
        ``kaizen_lab.integrations.nexus.create_multi_agent_service``.
        """
        from kaizen_lab.integrations.nexus import deploy_agent

        options.setdefault("auth", self.config.security)
        return deploy_agent(self._agents([agent])[0], channels, **options)

    def create_multi_agent_service(self, agents: Iterable[AgentRef], channels: Any = ("api", "cli", "mcp"),
                                   **options: Any) -> Any:
        """Serve several agents (Agents, ids or config dicts) as one service; returns a ``Deployment``."""
        from kaizen_lab.integrations.nexus import create_multi_agent_service

        options.setdefault("auth", self.config.security)
        return create_multi_agent_service(self._agents(agents), channels, **options)


#: agent options the roadmap puts in an agent's config dict that are per-request model settings here
_MODEL_SETTINGS = ("temperature", "max_tokens", "top_p", "seed", "stop")


def _agent_options(signature: Any, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``create_agent``'s arguments as (signature, Agent options): accepts a dict of options in place of the
    signature or in ``config=``, and moves model settings into ``settings``."""
    options = dict(options)
    if "config" in options:
        given = options.pop("config")
        if not isinstance(given, Mapping):
            raise UserError(f"create_agent(config=...) takes the agent's options as a dict, got "
                            f"{type(given).__name__}; the Kaizen configuration goes to Kaizen(config)")
        options = {**given, **options}
    if isinstance(signature, Mapping):
        options = {**signature, **options}
        signature = None
    if "signature" in options:
        if signature is not None:
            raise UserError("the signature is given twice: as an argument and in the config dict")
        signature = options.pop("signature")
    settings = {k: options.pop(k) for k in _MODEL_SETTINGS if k in options}
    if settings:
        if options.get("settings") is not None:
            raise UserError(f"give model settings either in settings= or as {sorted(settings)}, not both")
        options["settings"] = settings
    return signature, options
