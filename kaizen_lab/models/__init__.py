"""Models behind one small async protocol: test models, OpenAI-compatible, Anthropic, the embedded local model."""

from kaizen_lab.models.base import (
    BaseModel,
    Message,
    Model,
    ModelResponse,
    ModelSettings,
    RequestInfo,
    ToolCall,
    ToolSpec,
    Usage,
    override_allow_real_requests,
)
from kaizen_lab.models.registry import resolve_model
from kaizen_lab.models.testing import FunctionModel, ScriptedModel, TestModel

__all__ = [
    # protocol and records
    "BaseModel", "Message", "Model", "ModelResponse", "ModelSettings", "RequestInfo", "ToolCall", "ToolSpec",
    "Usage",
    # resolution and the guard
    "override_allow_real_requests", "resolve_model",
    # keyless test models
    "FunctionModel", "ScriptedModel", "TestModel",
]
