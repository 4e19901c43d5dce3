"""Configuration: ``KaizenConfig`` and ``load_config``.

One validated pydantic model holds every setting. ``load_config`` accepts what people actually have at hand —
a dict, a YAML or JSON file, a YAML/JSON string, an existing config — and lays ``KAIZEN_*`` environment
variables over it (``KAIZEN_DEBUG=1``, ``KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS=5``: ``__`` separates
levels). Precedence, lowest first: defaults, the source, the environment, keyword overrides.

Every problem becomes a ``ConfigError`` naming the key path, the bad value and what is allowed
(``mcp_integration.max_connections: expected a positive integer, got -3``); unknown keys are errors with a
"did you mean" hint, because a misspelt setting that is silently ignored is the worst kind of bug.
"""

from __future__ import annotations

import json
import os
import re
import threading
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kaizen_lab.errors import ConfigError, did_you_mean

__all__ = [
    "AuthConfig",
    "ConfigurationManager",
    "KaizenConfig",
    "LocalModelConfig",
    "MCPIntegrationConfig",
    "MonitoringConfig",
    "SecurityConfig",
    "StoreConfig",
    "TracingConfig",
    "load_config",
]

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]

ENV_PREFIX = "KAIZEN_"
#: ``KAIZEN_*`` variables that are not settings (read elsewhere), never treated as config keys.
ENV_RESERVED = frozenset({"KAIZEN_HOME", "KAIZEN_CONFIG", "KAIZEN_STATIC_IMAGES", "KAIZEN_LOCAL_MODEL",
                          "KAIZEN_LOCAL_BACKEND"})


_nesting = threading.local()


class _Section(BaseModel):
    """Base of every config section: unknown keys are errors and every failure is a ``ConfigError``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
    _path: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        # pydantic calls __init__ for nested sections too: only the outermost call converts the error, so one
        # ConfigError lists every problem with its full path.
        depth = getattr(_nesting, "depth", 0)
        _nesting.depth = depth + 1
        try:
            super().__init__(**data)
        except ValidationError as exc:
            if depth:
                raise
            raise _to_config_error(exc, type(self), self._path) from None
        finally:
            _nesting.depth = depth

    def __repr_args__(self) -> Any:
        # repr()/str() of a config end up in notebooks and logs: never with the secrets it holds
        for name, value in super().__repr_args__():
            yield name, value if isinstance(value, _Section) else _redacted({name: value})[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).model_fields:
            raise ConfigError(f"{_join(self._path, name)}: unknown setting{_known(name, type(self))}",
                              path=_join(self._path, name), value=value)
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise _to_config_error(exc, type(self), self._path) from None


def _redacted(data: Any) -> Any:
    from kaizen_lab.redact import redact

    return redact(data)


class MCPIntegrationConfig(_Section):
    """How agents find and connect to MCP servers."""

    _path: ClassVar[str] = "mcp_integration"

    auto_discover: bool = False
    registry_url: str | None = None
    max_connections: PositiveInt = 10
    scan_local: bool = False
    use_registry: bool = False
    max_services: PositiveInt = 50
    connect_timeout: PositiveFloat = 10.0
    call_timeout: PositiveFloat = 60.0
    #: named servers: ``{time: {command: python, args: [-m, mcp_server_time]}}`` or ``{url: ..., token_env: ...}``
    servers: dict[str, dict[str, Any]] = Field(default_factory=dict)


class AuthConfig(_Section):
    """Authentication for served agents and MCP servers."""

    _path: ClassVar[str] = "security.auth"

    enabled: bool = False
    method: Literal["none", "api_key", "jwt"] = "none"
    token_ttl_seconds: PositiveInt = 3600
    max_failed_attempts: PositiveInt = 5
    lockout_seconds: PositiveInt = 300


class SecurityConfig(_Section):
    """Encryption, audit logging, authentication and access control."""

    _path: ClassVar[str] = "security"

    encryption_enabled: bool = False
    audit_logging: bool = False
    audit_path: str = ".kaizen/audit.db"
    #: unset: on as soon as any role is configured (a key or user with roles, custom roles); true/false: forced
    rbac_enabled: bool | None = None
    redact_secrets: bool = True
    auth: AuthConfig = Field(default_factory=AuthConfig)


class TracingConfig(_Section):
    """What is recorded about runs and where."""

    _path: ClassVar[str] = "tracing"

    #: notebooks (``%load_ext``) record every run when true; scripts record once a Tracer is started
    #: (docs/tracing.md)
    enabled: bool = True
    #: relative paths are resolved against the working directory
    store_path: str = ".kaizen/traces.db"
    in_memory: bool = False
    retention_runs: PositiveInt | None = 1000
    #: regular expressions whose matches are replaced by ``[REDACTED]`` in recorded traces
    redact_patterns: list[str] = Field(default_factory=list)

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"expected regular expressions, got {pattern!r} ({exc})") from None
        return value

    def resolved_store_path(self) -> Path | None:
        """The trace database file (``None`` when traces live in memory)."""
        return None if self.in_memory else Path(self.store_path).expanduser().absolute()


class StoreConfig(_Section):
    """The embedded store for runs, state and memory (SQLite), or a PostgreSQL database via ``url``."""

    _path: ClassVar[str] = "store"

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    #: SQLite file; relative paths are resolved against the working directory
    path: str = ".kaizen/kaizen.db"
    #: PostgreSQL connection URL, required when ``backend`` is ``postgresql``
    url: str | None = None

    @model_validator(mode="after")
    def _url_for_postgresql(self) -> StoreConfig:
        if self.backend == "postgresql" and not self.url:
            raise ValueError("store.url: required when store.backend is 'postgresql', "
                             "e.g. url: postgresql://user@127.0.0.1:5432/kaizen")
        return self

    def location(self) -> str:
        """Human-readable location: the SQLite file path or the PostgreSQL URL without its password."""
        if self.backend == "postgresql" and self.url:
            return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.url)
        return str(Path(self.path).expanduser().absolute())


class MonitoringConfig(_Section):
    """Alert rules over the served metrics, how often they are evaluated, and where alerts are sent."""

    _path: ClassVar[str] = "monitoring"

    #: evaluate the alert rules in deployments (``deploy_agent``, ``kaizen-lab serve``)
    enabled: bool = True
    evaluation_interval_s: PositiveFloat = 15.0
    #: the window of the rate rules (error, retry and timeout rates, p95 latency)
    window_s: PositiveFloat = 300.0
    error_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    error_rate_for_s: NonNegativeFloat = 60.0
    latency_p95_s: PositiveFloat = 10.0
    latency_for_s: NonNegativeFloat = 300.0
    retry_rate: PositiveFloat = 0.5
    timeout_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    health_for_s: NonNegativeFloat = 60.0
    queue_depth: PositiveInt = 100
    store_fill_ratio: Annotated[float, Field(gt=0, le=1)] = 0.9
    #: per agent and budget period; no budget rule without a value
    token_budget: PositiveInt | None = None
    cost_budget_usd: PositiveFloat | None = None
    budget_period_s: PositiveFloat = 86400.0
    repeat_interval_s: PositiveFloat = 3600.0
    #: ``[{url: http://127.0.0.1:9000/hook, secret_env: KAIZEN_WEBHOOK_SECRET}]``: signed Alertmanager-style posts
    webhooks: list[dict[str, Any]] = Field(default_factory=list)
    disabled_rules: list[str] = Field(default_factory=list)


class LocalModelConfig(_Section):
    """The embedded model (``model="local"``): bounded waits and warm-up."""

    #: seconds one generation (prompt pass and answer) may take; ``null`` waits without limit. A prompt whose
    #: pass is predicted to take longer is refused up front (``PromptTooSlowError``). Per call:
    #: ``ModelSettings(timeout=...)``; per model: ``LocalModel(timeout=...)``
    timeout: PositiveFloat | None = 120.0
    #: sampled tokens one value of a structured answer may take in a row before the answer stops
    #: (``finish_reason="length"``); the keys and punctuation the schema forces do not count
    max_field_tokens: Annotated[int, Field(ge=1)] = 128
    #: ``LocalModel.load()`` and the servers run a short generation after loading, so the first answer is as
    #: fast as the next ones
    warm_up: bool = True


class KaizenConfig(_Section):
    """Every kaizen-lab setting. Build one with ``load_config`` (or directly, with keyword arguments)."""

    _path: ClassVar[str] = ""

    debug: bool = False
    memory_enabled: bool = True
    #: kept for configurations written for earlier Kaizen releases; enables the optimization engine
    optimization_enabled: bool = False
    signature_programming_enabled: bool = True
    mcp_integration_enabled: bool = True
    multi_agent_enabled: bool = True
    transparency_enabled: bool = True
    #: progress bars for model loading, batches, evaluations and optimizations: ``None`` draws them when someone
    #: watches (a notebook or a terminal), ``False`` never (``KAIZEN_PROGRESS=false``), ``True`` always
    progress: bool | None = None

    #: model used when an agent names none (see ``kaizen_lab.models.registry.default_model_spec``)
    default_model: str | None = None
    #: named models: ``{fast: {provider: openai, model: gpt-4o-mini, base_url: ...}}``
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: price overrides in USD per million tokens: ``{"openai:gpt-4o-mini": {input: 0.15, output: 0.6}}``
    prices: dict[str, dict[str, NonNegativeFloat]] = Field(default_factory=dict)

    mcp_integration: MCPIntegrationConfig = Field(default_factory=MCPIntegrationConfig)
    #: the embedded model: ``local: {timeout: 120, max_field_tokens: 128, warm_up: true}``
    local: LocalModelConfig = Field(default_factory=LocalModelConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @model_validator(mode="before")
    @classmethod
    def _roadmap_names(cls, data: Any) -> Any:
        # the roadmap's KaizenConfig calls the security section ``security_config``
        if isinstance(data, Mapping) and "security_config" in data:
            if "security" in data:
                raise ValueError("security_config: the same section as security; give only one of them")
            data = {("security" if k == "security_config" else k): v for k, v in data.items()}
        return data

    @property
    def security_config(self) -> SecurityConfig:
        """The roadmap's name for ``security``."""
        return self.security

    @field_validator("models")
    @classmethod
    def _models_have_provider(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, entry in value.items():
            if not isinstance(entry.get("provider"), str):
                raise ValueError(f"models.{name}.provider: required, e.g. {{provider: openai, model: gpt-4o-mini}}")
        return value

    @field_validator("prices")
    @classmethod
    def _price_keys(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for name, entry in value.items():
            for key in entry:
                if key not in ("input", "output"):
                    raise ValueError(f"prices.{name}.{key}: unknown price{did_you_mean(key, ['input', 'output'])}; "
                                     "allowed: input, output (USD per million tokens)")
        return value

    def to_dict(self, *, redact_secrets: bool = False) -> dict[str, Any]:
        """Plain JSON-compatible dict; ``load_config(cfg.to_dict()) == cfg``.

        It holds the configured secrets (API keys, URL passwords, tokens) unless ``redact_secrets=True``.
        """
        data = self.model_dump(mode="json")
        return _redacted(data) if redact_secrets else data

    def to_yaml(self, *, redact_secrets: bool = True) -> str:
        """YAML text in field order, secrets replaced by ``[REDACTED]``; with ``redact_secrets=False``
        ``load_config(cfg.to_yaml(redact_secrets=False)) == cfg``."""
        import yaml

        return str(yaml.safe_dump(self.to_dict(redact_secrets=redact_secrets), sort_keys=False))

    def to_json(self, *, redact_secrets: bool = True) -> str:
        """JSON text, secrets replaced by ``[REDACTED]`` unless ``redact_secrets=False`` (then
        ``load_config(cfg.to_json(redact_secrets=False)) == cfg``)."""
        return json.dumps(self.to_dict(redact_secrets=redact_secrets), indent=2)


# --------------------------------------------------------------------------------------------------- loading


class ConfigurationManager:
    """The roadmap's ``ConfigurationManager().load_config(source)``: ``load_config`` as a method.

    Args:
        env: environment to read ``KAIZEN_*`` overrides from (default ``os.environ``).
    """

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        self.env = env

    def load_config(self, config_source: KaizenConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
                    **overrides: Any) -> KaizenConfig:
        """A validated ``KaizenConfig`` from a dict, YAML/JSON file or text, or an existing config."""
        return load_config(config_source, env=self.env, overrides=overrides or None)


def load_config(source: KaizenConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None, *,
                env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> KaizenConfig:
    """Build a validated ``KaizenConfig``.

    Args:
        source: ``None`` (defaults, or the file named by ``KAIZEN_CONFIG``), a dict, a YAML/JSON file path
            (``str`` or ``Path``), a YAML/JSON string, or an existing ``KaizenConfig``.
        env: environment to read ``KAIZEN_*`` overrides from (default ``os.environ``). An existing
            ``KaizenConfig`` source is taken as is: the environment was applied when it was loaded.
        overrides: top-level settings that win over everything else (e.g. ``{"debug": True}``).

    Raises:
        ConfigError: the file is missing or does not parse, a key is unknown, or a value is invalid.
    """
    environ = os.environ if env is None else env
    if isinstance(source, KaizenConfig):
        if not overrides:
            return source
        data = source.to_dict()
        origins: dict[str, str] = {}
    else:
        if source is None and environ.get("KAIZEN_CONFIG"):
            source = Path(environ["KAIZEN_CONFIG"])
        data = _read_source(source)
        origins = _apply_env(data, environ)
    if overrides:
        _deep_merge(data, dict(overrides))
    depth = getattr(_nesting, "depth", 0)
    _nesting.depth = depth + 1  # convert here, where the environment origins are known
    try:
        return KaizenConfig.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(exc, KaizenConfig, "", origins) from None
    finally:
        _nesting.depth = depth


def _read_source(source: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return _as_mapping(_plain(source), "the configuration dict")
    if isinstance(source, os.PathLike):
        return _read_file(Path(source))
    if isinstance(source, str):
        text = source.strip()
        if "\n" in text or text.startswith(("{", "[")) or ": " in text or text.endswith(":"):
            return _parse_text(source, "the configuration text")
        if not text:
            raise ConfigError("empty configuration text; pass a dict, a YAML/JSON string or a file path")
        return _read_file(Path(text))
    raise ConfigError(f"cannot load a configuration from {type(source).__name__}; pass a dict, a YAML/JSON "
                      "string, a file path or a KaizenConfig", value=source)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        path = path.expanduser()
        found = path.is_file()
    except (OSError, ValueError, RuntimeError) as exc:  # name too long, NUL byte, unknown ~user
        raise ConfigError(f"{str(path)[:80]!r} is neither configuration text nor a readable file path "
                          f"({type(exc).__name__}); pass YAML/JSON text such as 'debug: true' or a file path",
                          value=str(path)[:200]) from None
    if not found:
        hint = "" if path.suffix in (".yaml", ".yml", ".json") else " (or pass YAML/JSON text such as 'debug: true')"
        raise ConfigError(f"configuration file not found: {str(path)!r}{hint}", value=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {exc.strerror}", value=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"configuration file {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as "
                          "UTF-8", value=str(path)) from None
    if path.suffix == ".json":
        return _parse_json(text, str(path))
    return _parse_text(text, str(path))


def _parse_json(text: str, where: str) -> dict[str, Any]:
    try:
        data = _json_loads(text, where)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON in {where} at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                          value=text) from None
    return _as_mapping(data, where)


def _json_loads(text: str, where: str) -> Any:
    """``json.loads`` with the YAML loader's limits: size, nesting depth and Python's digit limit."""
    from kaizen_lab._yaml import MAX_BYTES, MAX_DEPTH, _bracket_depth

    if len(text) > MAX_BYTES:
        raise ConfigError(f"{where} is {len(text):,} characters long, over the {MAX_BYTES:,} limit")
    if _bracket_depth(text) > MAX_DEPTH:
        raise ConfigError(f"{where} nests deeper than {MAX_DEPTH} levels; flatten it")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:  # int('9' * 5000): Python's digit limit
        reason = "a number has more than 4,300 digits" if "digits" in str(exc) else "it nests too deeply"
        raise ConfigError(f"invalid value in {where}: {reason}; write very long numbers as quoted text") from None


def _parse_text(text: str, where: str) -> dict[str, Any]:
    if text.lstrip().startswith(("{", "[")):
        try:
            return _as_mapping(_json_loads(text, where), where)
        except json.JSONDecodeError:
            pass  # YAML flow style is a superset of JSON: let the YAML parser report the position
    from kaizen_lab._yaml import load_yaml

    data = load_yaml(text, where=where)  # limited: size, depth and alias expansion
    if data is None:
        return {}
    return _as_mapping(data, where)


def _as_mapping(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping of settings (e.g. 'debug: true'), got {type(data).__name__}",
                          value=data)
    return {str(k): v for k, v in data.items()}


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of nested mappings, so merging never mutates the caller's dict."""
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = _plain(value) if isinstance(value, Mapping) else value


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Lay ``KAIZEN_*`` variables over ``data``; returns ``{key path: variable name}`` for error messages."""
    origins: dict[str, str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in ENV_RESERVED:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        if not all(parts):
            raise ConfigError(f"{name}: empty key segment; use KAIZEN_SECTION__KEY, e.g. "
                              "KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS=5", path=name)
        if parts[0] not in KaizenConfig.model_fields:
            hint = did_you_mean(parts[0], KaizenConfig.model_fields)
            if hint:  # close to a setting: almost certainly a typo rather than another KAIZEN_ variable
                raise ConfigError(f"{name}: unknown setting {parts[0]!r}{hint}", path=parts[0], value=environ[name])
            continue  # other kaizen-lab variables (e.g. model paths) are read where they are used
        annotation = _annotation_at(parts)
        value = _env_value(environ[name], annotation)
        target = data
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = target[part] = {}
            target = existing
        target[parts[-1]] = value
        origins[".".join(parts)] = name
    return origins


def _annotation_at(parts: list[str]) -> Any:
    model: Any = KaizenConfig
    annotation: Any = None
    for part in parts:
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            annotation = model.model_fields[part].annotation
            model = annotation
        else:
            return None
    return annotation


def _env_value(raw: str, annotation: Any) -> Any:
    text = raw.strip()
    if text.lower() in ("null", "none", "~") and _allows_none(annotation):
        return None
    if text.startswith(("[", "{")):
        return _parse_env_structure(raw)
    if _is_str(annotation):
        return raw  # "123" stays a string for string settings
    for convert in (int, float):
        try:
            return convert(text)  # so errors show the number (got -3), and 1/0 work for booleans
        except ValueError:
            pass
    return text  # pydantic converts "true"/"yes" in lax mode and reports the raw text when it cannot


def _parse_env_structure(raw: str) -> Any:
    from kaizen_lab._yaml import load_yaml

    try:
        return load_yaml(raw, where="an environment variable")
    except ConfigError:
        return raw


def _allows_none(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _is_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(a is str for a in get_args(annotation))
    return False


# --------------------------------------------------------------------------------------------------- errors


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _known(name: str, model: type[BaseModel]) -> str:
    fields = list(model.model_fields)
    return f"{did_you_mean(name, fields)}; known settings: {', '.join(fields)}"


def _to_config_error(exc: ValidationError, model: type[BaseModel], prefix: str,
                     origins: Mapping[str, str] | None = None) -> ConfigError:
    problems: list[tuple[str, Any, str, str]] = []
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error["loc"]]
        path = ".".join([prefix, *loc] if prefix else loc)
        value = error.get("input")
        kind = error["type"]
        if kind == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
            hint = _known(loc[-1], owner) if owner is not None else ""
            message, allowed = f"{path}: unknown setting{hint}", ", ".join(owner.model_fields) if owner else ""
        elif kind == "value_error":
            text = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
            named = re.match(r"^([\w.]+): ", text)
            message, path = (text, named.group(1)) if named else (f"{path}: {text}", path)
            allowed = ""
        else:
            allowed = _expected_at(model, loc) or _fallback_expectation(error)
            message = f"{path}: expected {allowed}, got {_show(value)}"
        origin = (origins or {}).get(".".join(loc))
        if origin:
            message += f" (from {origin})"
        problems.append((path, value, allowed, message))
    path, value, allowed, _ = problems[0]
    text = "\n".join(p[3] for p in problems)
    return ConfigError(text, path=path, value=value, allowed=allowed)


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, str | int | float | bool) or value is None:
        shown = repr(value)
        return shown if len(shown) <= 80 else shown[:77] + "..."
    return type(value).__name__


def _model_at(model: type[BaseModel], loc: list[str]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        current = current.model_fields[part].annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _expected_at(model: type[BaseModel], loc: list[str]) -> str:
    current: Any = model
    metadata: list[Any] = []
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            field = current.model_fields[part]
            current, metadata = field.annotation, list(field.metadata)
        elif get_origin(current) in (dict, list) and get_args(current):
            current, metadata = get_args(current)[-1], []  # the value type of dict[str, V] / list[V]
        else:
            return ""
    return "" if current is model else _describe(current, metadata)


def _describe(annotation: Any, metadata: list[Any]) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        constraints = [m for e in extra for m in (e.metadata if hasattr(e, "metadata") else [e])]
        return _describe(inner, [*metadata, *constraints])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        text = " or ".join(_describe(a, metadata) for a in args)
        return f"{text} or null" if len(args) < len(get_args(annotation)) else text
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    positive = any(isinstance(m, annotated_types.Gt) and m.gt == 0 for m in metadata)
    non_negative = any(isinstance(m, annotated_types.Ge) and m.ge == 0 for m in metadata)
    sign = "a positive " if positive else "a non-negative " if non_negative else ""
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return f"{sign}integer" if sign else "an integer"
    if annotation is float:
        return f"{sign}number" if sign else "a number"
    if annotation is str:
        return "a string"
    if origin is list or annotation is list:
        return "a list"
    if origin is dict or annotation is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "a mapping"
    return ""


_BY_ERROR_TYPE = {
    "bool_parsing": "true or false", "bool_type": "true or false", "int_parsing": "an integer",
    "int_type": "an integer", "int_from_float": "an integer", "float_parsing": "a number", "float_type": "a number",
    "string_type": "a string", "dict_type": "a mapping", "list_type": "a list", "literal_error": "one of {expected}",
    "greater_than": "a number greater than {gt}", "greater_than_equal": "a number greater than or equal to {ge}",
}


def _fallback_expectation(error: Any) -> str:
    template = _BY_ERROR_TYPE.get(error["type"])
    if template is not None:
        try:
            return template.format(**error.get("ctx", {}))
        except (KeyError, IndexError):
            pass
    msg = str(error.get("msg", ""))
    return f"a valid value ({msg})" if msg else "a valid value"
