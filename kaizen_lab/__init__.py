"""kaizen-lab: a Jupyter-first environment for building LLM agents on the Kailash Core SDK.

``import kaizen_lab`` is deliberately almost free: every public name below is resolved on first access from
the module named in ``_LAZY`` (PEP 562 ``__getattr__``), so Kailash, MCP, pydantic, IPython and the model SDKs
are imported only by the code that needs them. ``%load_ext kaizen_lab`` loads the notebook magics.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # static re-exports for type checkers and IDEs; the runtime path is __getattr__ below
    from kaizen_lab.agents import Agent, ExecutionResult, Tool, tool
    from kaizen_lab.config import (
        ConfigurationManager,
        KaizenConfig,
        MCPIntegrationConfig,
        SecurityConfig,
        StoreConfig,
        TracingConfig,
        load_config,
    )
    from kaizen_lab.errors import (
        AgentRunError,
        AuthenticationError,
        AuthorizationError,
        ConfidenceUnavailableError,
        ConfigError,
        KaizenError,
        KaizenTimeoutError,
        MCPError,
        ModelError,
        OutputParseError,
        RealRequestsForbiddenError,
        SecurityError,
        SignatureError,
        ToolError,
        UserError,
    )
    from kaizen_lab.events import add_listener
    from kaizen_lab.framework import Kaizen
    from kaizen_lab.integrations.dataflow import KaizenDataFlowIntegration
    from kaizen_lab.integrations.nexus import KaizenNexusIntegration
    from kaizen_lab.integrations.production import ProductionDeploymentManager
    from kaizen_lab.mcp.discovery import AdvancedMCPDiscovery
    from kaizen_lab.models import (
        FunctionModel,
        Message,
        ScriptedModel,
        TestModel,
        override_allow_real_requests,
        resolve_model,
    )
    from kaizen_lab.monitoring import ProductionMonitoring
    from kaizen_lab.optimize import AutoOptimizationEngine, PromptOptimizer
    from kaizen_lab.security import KaizenSecurityManager
    from kaizen_lab.signatures import (
        Confidence,
        InputField,
        OutputField,
        Signature,
        SignatureCompiler,
        SignatureParser,
    )
    from kaizen_lab.store import RunStore
    from kaizen_lab.tracing import Tracer
    from kaizen_lab.tracing.monitor import TransparencyMonitor


__version__: str  # resolved on first access: importlib.metadata alone costs ~30 ms


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kaizen-lab")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"

#: public name -> "module:attribute"
_LAZY: dict[str, str] = {
    # facade and configuration
    "Kaizen": "kaizen_lab.framework:Kaizen",
    "KaizenConfig": "kaizen_lab.config:KaizenConfig",
    "MCPIntegrationConfig": "kaizen_lab.config:MCPIntegrationConfig",
    "SecurityConfig": "kaizen_lab.config:SecurityConfig",
    "StoreConfig": "kaizen_lab.config:StoreConfig",
    "TracingConfig": "kaizen_lab.config:TracingConfig",
    "load_config": "kaizen_lab.config:load_config",
    # signatures
    "Signature": "kaizen_lab.signatures:Signature",
    "InputField": "kaizen_lab.signatures:InputField",
    "OutputField": "kaizen_lab.signatures:OutputField",
    "Confidence": "kaizen_lab.signatures:Confidence",
    # agents
    "Agent": "kaizen_lab.agents:Agent",
    "ExecutionResult": "kaizen_lab.agents:ExecutionResult",
    "Tool": "kaizen_lab.agents:Tool",
    "tool": "kaizen_lab.agents:tool",
    # models
    "Message": "kaizen_lab.models:Message",
    "TestModel": "kaizen_lab.models:TestModel",
    "FunctionModel": "kaizen_lab.models:FunctionModel",
    "ScriptedModel": "kaizen_lab.models:ScriptedModel",
    "resolve_model": "kaizen_lab.models:resolve_model",
    "override_allow_real_requests": "kaizen_lab.models:override_allow_real_requests",
    # events
    "add_listener": "kaizen_lab.events:add_listener",
    # transparency
    "Tracer": "kaizen_lab.tracing:Tracer",
    "TransparencyMonitor": "kaizen_lab.tracing.monitor:TransparencyMonitor",
    "RunStore": "kaizen_lab.store:RunStore",
    # the roadmap's names for the classes above and beside them (docs/roadmap-api.md)
    "ConfigurationManager": "kaizen_lab.config:ConfigurationManager",
    "SignatureParser": "kaizen_lab.signatures:SignatureParser",
    "SignatureCompiler": "kaizen_lab.signatures:SignatureCompiler",
    "PromptOptimizer": "kaizen_lab.optimize:PromptOptimizer",
    "AutoOptimizationEngine": "kaizen_lab.optimize:AutoOptimizationEngine",
    "AdvancedMCPDiscovery": "kaizen_lab.mcp.discovery:AdvancedMCPDiscovery",
    "KaizenSecurityManager": "kaizen_lab.security:KaizenSecurityManager",
    "KaizenDataFlowIntegration": "kaizen_lab.integrations.dataflow:KaizenDataFlowIntegration",
    "KaizenNexusIntegration": "kaizen_lab.integrations.nexus:KaizenNexusIntegration",
    "ProductionDeploymentManager": "kaizen_lab.integrations.production:ProductionDeploymentManager",
    "ProductionMonitoring": "kaizen_lab.monitoring:ProductionMonitoring",
    # errors
    "KaizenError": "kaizen_lab.errors:KaizenError",
    "UserError": "kaizen_lab.errors:UserError",
    "SignatureError": "kaizen_lab.errors:SignatureError",
    "ConfigError": "kaizen_lab.errors:ConfigError",
    "ConfidenceUnavailableError": "kaizen_lab.errors:ConfidenceUnavailableError",
    "RealRequestsForbiddenError": "kaizen_lab.errors:RealRequestsForbiddenError",
    "AgentRunError": "kaizen_lab.errors:AgentRunError",
    "ModelError": "kaizen_lab.errors:ModelError",
    "OutputParseError": "kaizen_lab.errors:OutputParseError",
    "ToolError": "kaizen_lab.errors:ToolError",
    "MCPError": "kaizen_lab.errors:MCPError",
    "KaizenTimeoutError": "kaizen_lab.errors:KaizenTimeoutError",
    "SecurityError": "kaizen_lab.errors:SecurityError",
    "AuthenticationError": "kaizen_lab.errors:AuthenticationError",
    "AuthorizationError": "kaizen_lab.errors:AuthorizationError",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'kaizen_lab' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "__version__"})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kaizen_lab``: register the magics and display formatters."""
    importlib.import_module("kaizen_lab.notebook").load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext kaizen_lab``."""
    importlib.import_module("kaizen_lab.notebook").unload_ipython_extension(ipython)


__all__ = [
    "__version__",
    # facade and configuration
    "Kaizen", "KaizenConfig", "MCPIntegrationConfig", "SecurityConfig", "StoreConfig", "TracingConfig",
    "load_config",
    # signatures
    "Confidence", "InputField", "OutputField", "Signature",
    # agents
    "Agent", "ExecutionResult", "Tool", "tool",
    # models
    "FunctionModel", "Message", "ScriptedModel", "TestModel", "override_allow_real_requests", "resolve_model",
    # events
    "add_listener",
    # transparency
    "RunStore", "Tracer", "TransparencyMonitor",
    # the roadmap's names
    "AdvancedMCPDiscovery", "AutoOptimizationEngine", "ConfigurationManager", "KaizenDataFlowIntegration",
    "KaizenNexusIntegration", "KaizenSecurityManager", "ProductionDeploymentManager", "ProductionMonitoring",
    "PromptOptimizer", "SignatureCompiler", "SignatureParser",
    # errors
    "AgentRunError", "AuthenticationError", "AuthorizationError", "ConfidenceUnavailableError", "ConfigError",
    "KaizenError", "KaizenTimeoutError", "MCPError", "ModelError", "OutputParseError", "RealRequestsForbiddenError",
    "SecurityError", "SignatureError", "ToolError", "UserError",
    # notebook extension
    "load_ipython_extension", "unload_ipython_extension",
]
