"""Models behind one small async protocol: test models, OpenAI-compatible, Anthropic, the embedded local model."""

from kaizen_lab.models.base import (
    ImagePart,
    Message,
    Model,
    ModelBase,
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
    "ImagePart", "Message", "Model", "ModelBase", "ModelResponse", "ModelSettings", "RequestInfo", "ToolCall", "ToolSpec",
    "Usage",
    # resolution and the guard
    "override_allow_real_requests", "resolve_model",
    # keyless test models
    "FunctionModel", "ScriptedModel", "TestModel",
    # hosted providers, retries, cost and caching (loaded on first access)
    "AnthropicModel", "CachedModel", "MemoryCache", "OpenAIModel", "RetryPolicy", "SQLiteCache", "cost_for",
    "observe_retries",
]

_LAZY = {
    "AnthropicModel": "kaizen_lab.models.anthropic",
    "CachedModel": "kaizen_lab.models.cache",
    "MemoryCache": "kaizen_lab.models.cache",
    "SQLiteCache": "kaizen_lab.models.cache",
    "OpenAIModel": "kaizen_lab.models.openai",
    "RetryPolicy": "kaizen_lab.models._retry",
    "cost_for": "kaizen_lab.models.pricing",
    "observe_retries": "kaizen_lab.models._retry",
}


def __getattr__(name: str) -> object:
    if name == "BaseModel":  # the old name of ModelBase (it shadowed pydantic's BaseModel)
        return ModelBase
    # provider modules pull in sqlite3 and the retry machinery; most programs only need the test models
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kaizen_lab.models' has no attribute {name!r}")
