"""``resolve_model``: model objects and strings to model instances.

Strings: ``"test"``, ``"local"``, ``"openai:gpt-4o-mini"``, ``"ollama:llama3.2"``, ``"anthropic:claude-..."``,
and names defined in config (``models: {fast: {provider: openai, base_url: ..., model: ...}}``).
Providers import lazily: resolving ``"test"`` never imports an SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from kaizen_lab.errors import ConfigError, UserError, did_you_mean
from kaizen_lab.models.base import ModelBase

__all__ = ["PROVIDERS", "default_model_spec", "register_provider", "resolve_model"]

OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1"


def _test(name: str, options: Mapping[str, Any]) -> ModelBase:
    from kaizen_lab.models.testing import TestModel

    return TestModel(**dict(options))


def _lazy(path: str, **fixed: Any) -> Callable[[str, Mapping[str, Any]], ModelBase]:
    module_name, _, attr = path.partition(":")

    def factory(name: str, options: Mapping[str, Any]) -> ModelBase:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # the provider module exists; its SDK may not
            raise UserError(str(exc)) from exc
        cls = getattr(module, attr)
        kwargs = {**fixed, **dict(options)}
        _check_options(cls, kwargs)
        return cls(name, **kwargs) if name else cls(**kwargs)

    return factory


def _check_options(cls: Any, options: Mapping[str, Any]) -> None:
    """Unknown model options (a typo in a config entry) fail with the accepted names, not a TypeError."""
    import inspect

    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    named = [n for n, p in params.items()
             if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    first = next(iter(params.values()), None)
    # the first positional parameter is the model name, which config entries give as ``model``
    allowed = named[1:] if first is not None and first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD else named
    for key in options:
        if key not in allowed:
            raise ConfigError(f"unknown option {key!r} for {cls.__name__}{did_you_mean(key, allowed)}; "
                              f"allowed: {', '.join(allowed)}", path=key, value=options[key],
                              allowed=", ".join(allowed))


def ollama_base_url() -> str:
    """Ollama's OpenAI-compatible endpoint: ``OLLAMA_HOST`` (as Ollama itself reads it) or the default."""
    import os

    host = os.environ.get("OLLAMA_HOST", "").strip().rstrip("/")
    if not host:
        return OLLAMA_BASE_URL
    if "://" not in host:
        host = f"http://{host}"
    return host if host.endswith("/v1") else f"{host}/v1"


def _ollama(name: str, options: Mapping[str, Any]) -> ModelBase:
    opts = {"base_url": ollama_base_url(), "api_key": "ollama", "provider_name": "ollama", **dict(options)}
    return _lazy("kaizen_lab.models.openai:OpenAIModel")(name or "llama3.2", opts)


def _apply_prices(model: ModelBase, config: Any) -> ModelBase:
    """Configured ``prices`` reach hosted models (a model's own ``prices=`` wins)."""
    prices = getattr(config, "prices", None) if config is not None else None
    if prices and hasattr(model, "prices"):
        from kaizen_lab.models.pricing import normalize_prices

        model.prices = {**normalize_prices(prices), **(model.prices or {})}
    return model


#: provider name -> factory(model_name, options) -> model
PROVIDERS: dict[str, Callable[[str, Mapping[str, Any]], ModelBase]] = {
    "test": _test,
    "local": _lazy("kaizen_lab.models.local:LocalModel"),
    "openai": _lazy("kaizen_lab.models.openai:OpenAIModel"),
    "ollama": _ollama,
    "anthropic": _lazy("kaizen_lab.models.anthropic:AnthropicModel"),
}


def register_provider(name: str, factory: Callable[[str, Mapping[str, Any]], ModelBase]) -> None:
    """Add a provider prefix usable in model strings (``"name:model"``)."""
    PROVIDERS[name] = factory


def default_model_spec(config: Any = None) -> tuple[str, str]:
    """The model used when none is given, and why: ``(spec, reason)``."""
    import os

    if os.environ.get("KAIZEN_DEFAULT_MODEL"):
        return os.environ["KAIZEN_DEFAULT_MODEL"], "set by KAIZEN_DEFAULT_MODEL"
    configured = getattr(config, "default_model", None) if config is not None else None
    if configured:
        return str(configured), "set by default_model in the configuration"
    return "local", "no model configured: the embedded local model answers offline with no key"


def resolve_model(spec: str | ModelBase | None = None, *, config: Any = None,
                  models: Mapping[str, Mapping[str, Any]] | None = None) -> ModelBase:
    """Turn ``spec`` into a model instance.

    Args:
        spec: a model object (returned as is), a string, or ``None`` for the configured default.
        config: a ``KaizenConfig`` (its ``models`` table and ``default_model`` are used).
        models: named model definitions, overriding the config's.
    """
    if spec is None:
        spec, _ = default_model_spec(config)
    if not isinstance(spec, str):
        if hasattr(spec, "request"):
            return spec  # type: ignore[return-value]
        raise UserError(f"model must be a model object or a string such as 'test' or 'openai:gpt-4o-mini', "
                        f"got {type(spec).__name__}")
    named = dict(getattr(config, "models", None) or {}) if config is not None else {}
    named.update(models or {})
    if spec in named:
        entry = dict(named[spec])
        provider = entry.pop("provider", None)
        if provider not in PROVIDERS:
            raise ConfigError(f"models.{spec}.provider: expected one of {sorted(PROVIDERS)}, got {provider!r}",
                              path=f"models.{spec}.provider", value=provider, allowed=", ".join(sorted(PROVIDERS)))
        model_name = entry.pop("model", "")
        try:
            return _apply_prices(PROVIDERS[provider](model_name, entry), config)
        except ConfigError as exc:
            if exc.path.startswith("models."):
                raise
            raise ConfigError(f"models.{spec}: {exc.message}", path=f"models.{spec}.{exc.path}", value=exc.value,
                              allowed=exc.allowed) from None
    provider, sep, model_name = spec.partition(":")
    if provider in PROVIDERS:
        return _apply_prices(PROVIDERS[provider](model_name if sep else "", {}), config)
    choices = [*PROVIDERS, *named]
    raise UserError(f"unknown model {spec!r}{did_you_mean(provider, choices)}; use 'provider:model' with a "
                    f"provider from {sorted(PROVIDERS)}, or a name defined under 'models' in the configuration")
