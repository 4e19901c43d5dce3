"""Agents: one ``Agent`` class, one ``ExecutionResult``, tools and memory."""

from kaizen_lab.agents.agent import Agent
from kaizen_lab.agents.memory import InMemoryStore, StateManager
from kaizen_lab.agents.result import ExecutionResult, RunMetadata
from kaizen_lab.agents.tools import Tool, ToolSet, tool, tool_from_function

__all__ = ["Agent", "ExecutionResult", "InMemoryStore", "RunMetadata", "StateManager", "Tool", "ToolSet", "tool",
           "tool_from_function"]
