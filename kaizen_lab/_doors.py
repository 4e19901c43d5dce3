"""Doors: the roadmap's methods on core objects that belong to outer layers, all in this one module.

Outer layers take agents and signatures (the runtime compiles them, ``mcp`` serves and connects them,
``integrations`` persist them, the notebook shows them); the core never imports upward. Where the roadmap puts
such a method on ``Agent``, ``Signature`` or ``ProductionMonitoring`` (``agent.expose_as_mcp_server()``,
``agent.playground()``, ``signature.compile_to_workflow()`` ...), it is a door here: a mixin method whose body
is one import of the owning package, on first use, and one delegating call. The owning function is the real
API (``kaizen_lab.mcp.server.expose``, ``kaizen_lab.runtime.compiler.compile_agent`` ...); a door keeps the
roadmap's spelling working and the core free of outer layers.

Each door's ``self`` is typed ``Any``: the type checker cannot take the subclass (``Agent``) as a mixin's self
type, and the owning function checks what it is given.

``tests/test_architecture.py`` exempts this module from the layer rules (as it does the package's own lazy
exports) and checks that every door keeps that shape: the docstring, one lazy import, one return. Two members
import nothing (``agent.mcp_<tool>`` and ``agent.mcp_connections`` read what the MCP package keeps on the
agent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kailash.workflow.builder import WorkflowBuilder

    from kaizen_lab.agents.result import ExecutionResult
    from kaizen_lab.signatures.signature import Signature

__all__ = ["AgentDoors", "MonitoringDoors", "SignatureDoors"]


class AgentDoors:
    """``Agent``'s doors to the runtime, MCP, persistence and the notebook."""

    # -- runtime (kaizen_lab.runtime) ---------------------------------------------------------------------
    def to_workflow_node(self: Any, node_id: str | None = None) -> Any:
        """A registered Kailash node running this agent (for ``WorkflowBuilder.add_node_instance``)."""
        from kaizen_lab.runtime.nodes import agent_node
        return agent_node(self, node_id or self.agent_id)

    def to_workflow(self: Any) -> WorkflowBuilder:
        """The compiled signature workflow (inputs → model → outputs) with this agent's config injected."""
        from kaizen_lab.runtime.compiler import compile_agent
        return compile_agent(self)

    def run_workflow(self: Any, **inputs: Any) -> ExecutionResult:
        """Run the compiled workflow on LocalRuntime (the same steps as ``execute``)."""
        from kaizen_lab.runtime.execute import run_agent_workflow
        return run_agent_workflow(self, inputs)

    # -- MCP (kaizen_lab.mcp) -----------------------------------------------------------------------------
    def expose_as_mcp_server(self: Any, transport: str | None = None, host: str = "127.0.0.1",
                             port: int | None = None, token: str | None = None, auth: bool = True) -> Any:
        """Serve this agent as an MCP tool; see ``kaizen_lab.mcp.server.expose`` (HTTP comes back running). The
        transport defaults to HTTP when a ``port`` is given (the roadmap's ``expose_as_mcp_server(port=8080)``),
        else stdio."""
        from kaizen_lab.mcp.server import expose
        return expose(self, transport or ("http" if port is not None else "stdio"),  # type: ignore[arg-type]
                      host=host, port=port, token=token, auth=auth)

    def connect_to_mcp_servers(self: Any, servers: Any, **options: Any) -> list[Any]:
        """Connect to MCP servers (commands, URLs, config entries) and offer their tools to the model."""
        from kaizen_lab.mcp._agent import mcp_namespace
        return mcp_namespace(self).connect(servers, **options)

    def enable_mcp_tools(self: Any, capabilities: Any, **policy: Any) -> list[Any]:
        """Discover MCP servers offering ``capabilities``, connect the best ones and bind their tools."""
        from kaizen_lab.mcp._agent import enable_mcp_tools
        return enable_mcp_tools(self, capabilities, **policy)

    @property
    def mcp(self: Any) -> Any:
        """This agent's MCP servers and tools (``agent.mcp.summary()``, ``agent.mcp.<tool>(...)``)."""
        from kaizen_lab.mcp._agent import mcp_namespace
        return mcp_namespace(self)

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: ``agent.mcp_<tool>`` calls a connected MCP tool. Nothing is
        # imported here: display machinery probes many missing attributes and must not load the MCP package.
        if name.startswith("mcp_") and "_mcp_namespace" in self.__dict__:
            return getattr(self.__dict__["_mcp_namespace"], name[4:])
        hint = "; no MCP server is connected (agent.connect_to_mcp_servers([...]))" if name.startswith("mcp_") else ""
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}{hint}")

    @property
    def mcp_connections(self) -> list[Any]:
        """The MCP connections this agent's tools come from (``agent.mcp.connections``; empty before any).
        Reads what the MCP package keeps on the agent, importing nothing."""
        namespace = self.__dict__.get("_mcp_namespace")
        return list(namespace.connections) if namespace is not None else []

    @property
    def capabilities(self: Any) -> list[str]:
        """What this agent offers other programs: the MCP tool names ``expose_as_mcp_server`` publishes (an
        agent is one tool, described by its signature)."""
        from kaizen_lab.mcp.server import tool_name_for
        return [tool_name_for(self)]

    # -- persistence (kaizen_lab.integrations) -------------------------------------------------------------
    def enable_dataflow_persistence(self: Any, url: str | None = None, *, records: bool = True,
                                    session: str | None = "default") -> Any:
        """Keep memory and one execution record per run in DataFlow (SQLite under ``.kaizen/`` by default,
        PostgreSQL by URL); memory then survives a restart, and runs that name no session continue
        ``session``. Returns the ``DataFlowStore``."""
        from kaizen_lab.integrations.dataflow import enable_persistence
        return enable_persistence(self, url, records=records, session=session)

    # -- notebook (kaizen_lab.notebook) ----------------------------------------------------------------------
    def playground(self: Any) -> Any:
        """A form for this agent's inputs with a Run button, result card and history (ipywidgets)."""
        from kaizen_lab.notebook import playground
        return playground(self)

    def debug(self: Any, **inputs: Any) -> Any:
        """The step-through debugger over this agent's compiled workflow, on ``inputs``."""
        from kaizen_lab.notebook import debugger
        return debugger(self, **inputs)

    def panel(self: Any) -> Any:
        """This agent's execution graph (input → model → output) as a Plotly figure."""
        from kaizen_lab.notebook import show_graph
        return show_graph(self)


class SignatureDoors:
    """``Signature``'s doors to the runtime and the optimizer (a signature builds no agents itself)."""

    __slots__ = ()  # signatures are immutable and slotted

    def compile_to_workflow(self: Any, model: Any = "test", *, agent_id: str = "signature",
                            **agent_config: Any) -> WorkflowBuilder:
        """A Kailash ``WorkflowBuilder`` with three registered nodes: ``input`` (validate inputs) →
        ``model`` (format, call, parse) → ``output`` (validated output fields).

        Args:
            model: a model string (``"test"``, ``"openai:gpt-4o-mini"``) or a model object.
            agent_id: the id the nodes' events carry.
            **agent_config: further ``Agent`` options (``max_retries``, ``adapter``, ``tools`` ...).
        """
        from kaizen_lab.runtime.compiler import compile_signature
        return compile_signature(self, model=model, agent_id=agent_id, **agent_config)

    def to_node(self: Any, node_id: str = "signature", model: Any = "test") -> Any:
        """One registered Kailash node running the whole signature (for ``add_node_instance``)."""
        from kaizen_lab.runtime.nodes import signature_node
        return signature_node(self, node_id=node_id, model=model)

    def optimize_prompt(self: Any, training_data: Sequence[Mapping[str, Any]], *, model: Any = None,
                        **options: Any) -> Signature:
        """The signature with the best instructions and demos ``PromptOptimizer(**options)`` finds on
        ``training_data`` (labelled dicts of input and output fields) using ``model``."""
        from kaizen_lab.optimize.prompt import PromptOptimizer
        return PromptOptimizer(**options).optimize(self, training_data, model=model).signature


class MonitoringDoors:
    """``ProductionMonitoring``'s door to the notebook."""

    def dashboard(self: Any, *, window_s: float = 600.0) -> Any:
        """A live dashboard widget (notebook): requests/s, latency p50/p95, errors, tokens, cost, alerts."""
        from kaizen_lab.notebook.widgets.monitoring import MonitoringDashboard
        return MonitoringDashboard(self, window_s=window_s)
