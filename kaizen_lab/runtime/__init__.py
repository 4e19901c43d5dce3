"""Kailash integration: registered nodes, the compiler, and execution on LocalRuntime.

Importing this package imports kailash (about 0.4 s); nothing in ``import kaizen_lab`` does.
"""

from kaizen_lab.runtime.compiler import compile_agent, compile_signature
from kaizen_lab.runtime.execute import (
    WorkflowRun,
    arun_workflow,
    local_runtime,
    run_agent_workflow,
    run_workflow,
)
from kaizen_lab.runtime.nodes import KaizenAgentNode, KaizenInputNode, KaizenModelNode, KaizenOutputNode

__all__ = [
    "KaizenAgentNode", "KaizenInputNode", "KaizenModelNode", "KaizenOutputNode", "WorkflowRun", "arun_workflow",
    "compile_agent", "compile_signature", "local_runtime", "run_agent_workflow", "run_workflow",
]
