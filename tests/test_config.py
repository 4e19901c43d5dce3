"""KaizenConfig and load_config: every loading route, environment overrides, validation messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kaizen_lab.config import (
    AuthConfig,
    KaizenConfig,
    MCPIntegrationConfig,
    SecurityConfig,
    StoreConfig,
    TracingConfig,
    load_config,
)
from kaizen_lab.errors import ConfigError, UserError

NO_ENV: dict[str, str] = {}

SAMPLE = {
    "debug": True,
    "default_model": "test",
    "mcp_integration": {"max_connections": 7, "auto_discover": True},
    "tracing": {"retention_runs": 50, "redact_patterns": [r"sk-[A-Za-z0-9]+"]},
}


def _check_sample(cfg: KaizenConfig) -> None:
    assert cfg.debug is True
    assert cfg.default_model == "test"
    assert cfg.mcp_integration.max_connections == 7
    assert cfg.mcp_integration.auto_discover is True
    assert cfg.mcp_integration.max_services == MCPIntegrationConfig().max_services  # untouched default
    assert cfg.tracing.retention_runs == 50
    assert cfg.tracing.redact_patterns == [r"sk-[A-Za-z0-9]+"]


# ------------------------------------------------------------------------------------------ defaults


def test_defaults_cover_the_roadmap_fields() -> None:
    cfg = load_config(env=NO_ENV)
    assert (cfg.debug, cfg.memory_enabled, cfg.optimization_enabled) == (False, True, False)
    assert cfg.signature_programming_enabled and cfg.mcp_integration_enabled
    assert cfg.multi_agent_enabled and cfg.transparency_enabled
    assert cfg.default_model is None and cfg.models == {} and cfg.prices == {}
    assert isinstance(cfg.mcp_integration, MCPIntegrationConfig)
    assert isinstance(cfg.security, SecurityConfig) and isinstance(cfg.security.auth, AuthConfig)
    assert isinstance(cfg.tracing, TracingConfig) and isinstance(cfg.store, StoreConfig)
    assert cfg.tracing.store_path == ".kaizen/traces.db"
    assert cfg.store.backend == "sqlite"


def test_tracing_store_path_is_relative_to_working_directory(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config(env=NO_ENV).tracing.resolved_store_path() == tmp_path / ".kaizen" / "traces.db"
    assert load_config({"tracing": {"in_memory": True}}, env=NO_ENV).tracing.resolved_store_path() is None


# ------------------------------------------------------------------------------------------ loading routes


def test_load_from_dict() -> None:
    _check_sample(load_config(SAMPLE, env=NO_ENV))


def test_load_from_dict_does_not_mutate_the_dict() -> None:
    source = {"mcp_integration": {"max_connections": 3}}
    load_config(source, env={"KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS": "9"})
    assert source == {"mcp_integration": {"max_connections": 3}}


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_load_from_yaml_path_str_and_path(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"kaizen{suffix}"
    path.write_text(yaml.safe_dump(SAMPLE))
    _check_sample(load_config(path, env=NO_ENV))
    _check_sample(load_config(str(path), env=NO_ENV))


def test_load_from_json_path(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.json"
    path.write_text(json.dumps(SAMPLE))
    _check_sample(load_config(path, env=NO_ENV))
    _check_sample(load_config(str(path), env=NO_ENV))


def test_load_from_yaml_string() -> None:
    _check_sample(load_config(yaml.safe_dump(SAMPLE), env=NO_ENV))


def test_load_from_one_line_yaml_string() -> None:
    assert load_config("debug: true", env=NO_ENV).debug is True


def test_load_from_json_string() -> None:
    _check_sample(load_config(json.dumps(SAMPLE), env=NO_ENV))


def test_empty_yaml_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing set\n")
    assert load_config(path, env=NO_ENV) == KaizenConfig()


def test_existing_config_is_returned_as_is() -> None:
    cfg = load_config(SAMPLE, env=NO_ENV)
    assert load_config(cfg, env={"KAIZEN_DEBUG": "0"}) is cfg


def test_existing_config_with_overrides_is_a_new_validated_copy() -> None:
    cfg = load_config(SAMPLE, env=NO_ENV)
    changed = load_config(cfg, overrides={"debug": False})
    assert changed.debug is False and cfg.debug is True
    assert changed.mcp_integration.max_connections == 7


def test_kaizen_config_env_variable_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "from-env.yaml"
    path.write_text("default_model: openai:gpt-4o-mini\n")
    assert load_config(env={"KAIZEN_CONFIG": str(path)}).default_model == "openai:gpt-4o-mini"


def test_direct_construction_with_keywords() -> None:
    cfg = KaizenConfig(debug=True, mcp_integration={"max_connections": 2})
    assert cfg.debug and cfg.mcp_integration.max_connections == 2


def test_default_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_DEBUG", "true")
    assert load_config().debug is True


# ------------------------------------------------------------------------------------------ environment


def test_env_overrides_top_level_and_nested_settings() -> None:
    cfg = load_config(env={"KAIZEN_DEBUG": "1", "KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS": "5",
                           "KAIZEN_SECURITY__AUTH__METHOD": "jwt"})
    assert cfg.debug is True
    assert cfg.mcp_integration.max_connections == 5
    assert cfg.security.auth.method == "jwt"


def test_env_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text("debug: true\nmcp_integration:\n  max_connections: 3\n  scan_local: true\n")
    cfg = load_config(path, env={"KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS": "8", "KAIZEN_DEBUG": "false"})
    assert cfg.mcp_integration.max_connections == 8
    assert cfg.mcp_integration.scan_local is True  # the rest of the file's section is kept
    assert cfg.debug is False


def test_keyword_overrides_win_over_env() -> None:
    cfg = load_config(env={"KAIZEN_DEBUG": "1"}, overrides={"debug": False})
    assert cfg.debug is False


def test_env_string_settings_stay_strings() -> None:
    cfg = load_config(env={"KAIZEN_DEFAULT_MODEL": "123", "KAIZEN_STORE__PATH": "/data/k.db"})
    assert cfg.default_model == "123"
    assert cfg.store.path == "/data/k.db"


def test_env_null_clears_an_optional_setting() -> None:
    assert load_config(env={"KAIZEN_TRACING__RETENTION_RUNS": "null"}).tracing.retention_runs is None


def test_env_structured_values_parse_as_yaml() -> None:
    cfg = load_config(env={"KAIZEN_TRACING__REDACT_PATTERNS": '["secret-\\\\d+", "tok_[a-z]+"]',
                           "KAIZEN_MODELS": "{fast: {provider: test}}"})
    assert cfg.tracing.redact_patterns == [r"secret-\d+", "tok_[a-z]+"]
    assert cfg.models == {"fast": {"provider": "test"}}


def test_env_ignores_reserved_and_unrelated_kaizen_variables() -> None:
    cfg = load_config(env={"KAIZEN_HOME": "/somewhere", "KAIZEN_LOCAL_MODEL_PATH": "/m.gguf", "PATH": "/bin"})
    assert cfg == KaizenConfig()


def test_env_typo_close_to_a_setting_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^KAIZEN_DEBG: unknown setting 'debg' \(did you mean 'debug'\?\)$"):
        load_config(env={"KAIZEN_DEBG": "1"})


def test_env_nested_typo_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"mcp_integration\.max_conections: unknown setting "
                                          r"\(did you mean 'max_connections'\?\)"):
        load_config(env={"KAIZEN_MCP_INTEGRATION__MAX_CONECTIONS": "5"})


def test_env_empty_segment_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"KAIZEN_MCP_INTEGRATION____X: empty key segment"):
        load_config(env={"KAIZEN_MCP_INTEGRATION____X": "5"})


def test_env_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS": "-3"})
    assert str(info.value) == ("mcp_integration.max_connections: expected a positive integer, got -3 "
                               "(from KAIZEN_MCP_INTEGRATION__MAX_CONNECTIONS)")
    assert info.value.path == "mcp_integration.max_connections"
    assert info.value.value == -3


# ------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(("data", "message"), [
    ({"mcp_integration": {"max_connections": -3}},
     "mcp_integration.max_connections: expected a positive integer, got -3"),
    ({"mcp_integration": {"max_connections": 2.5}},
     "mcp_integration.max_connections: expected a positive integer, got 2.5"),
    ({"mcp_integration": {"max_services": "many"}},
     "mcp_integration.max_services: expected a positive integer, got 'many'"),
    ({"mcp_integration": {"connect_timeout": 0}},
     "mcp_integration.connect_timeout: expected a positive number, got 0"),
    ({"mcp_integration": {"registry_url": 5}},
     "mcp_integration.registry_url: expected a string or null, got 5"),
    ({"mcp_integration": {"servers": {"time": "python -m x"}}},
     "mcp_integration.servers.time: expected a mapping, got 'python -m x'"),
    ({"debug": "maybe"}, "debug: expected true or false, got 'maybe'"),
    ({"memory_enabled": 2}, "memory_enabled: expected true or false, got 2"),
    ({"default_model": 42}, "default_model: expected a string or null, got 42"),
    ({"models": {"fast": "openai"}}, "models.fast: expected a mapping, got 'openai'"),
    ({"models": {"fast": {"model": "gpt-4o-mini"}}},
     "models.fast.provider: required, e.g. {provider: openai, model: gpt-4o-mini}"),
    ({"prices": {"openai:gpt-4o-mini": {"input": -1}}},
     "prices.openai:gpt-4o-mini.input: expected a non-negative number, got -1"),
    ({"prices": {"m": {"inptu": 1.0}}},
     "prices.m.inptu: unknown price (did you mean 'input'?); allowed: input, output (USD per million tokens)"),
    ({"security": {"auth": {"method": "oauth"}}},
     "security.auth.method: expected one of 'none', 'api_key', 'jwt', got 'oauth'"),
    ({"security": {"auth": {"lockout_seconds": 0}}},
     "security.auth.lockout_seconds: expected a positive integer, got 0"),
    ({"security": {"audit_logging": "sometimes"}},
     "security.audit_logging: expected true or false, got 'sometimes'"),
    ({"tracing": {"retention_runs": 0}},
     "tracing.retention_runs: expected a positive integer or null, got 0"),
    ({"tracing": {"redact_patterns": ["("]}},
     "tracing.redact_patterns: expected regular expressions, got '(' "
     "(missing ), unterminated subpattern at position 0)"),
    ({"tracing": {"redact_patterns": [3]}}, "tracing.redact_patterns.0: expected a string, got 3"),
    ({"tracing": {"redact_patterns": "sk-.*"}}, "tracing.redact_patterns: expected a list, got 'sk-.*'"),
    ({"tracing": "on"}, "tracing: expected a mapping, got 'on'"),
    ({"store": {"backend": "mysql"}}, "store.backend: expected one of 'sqlite', 'postgresql', got 'mysql'"),
    ({"store": {"backend": "postgresql"}},
     "store.url: required when store.backend is 'postgresql', e.g. url: postgresql://user@127.0.0.1:5432/kaizen"),
])
def test_validation_messages(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(data, env=NO_ENV)
    assert str(info.value) == message
    assert isinstance(info.value, UserError)


def test_validation_error_carries_path_value_and_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"mcp_integration": {"max_connections": -3}}, env=NO_ENV)
    err = info.value
    assert (err.path, err.value, err.allowed) == ("mcp_integration.max_connections", -3, "a positive integer")


def test_every_problem_is_listed() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"debug": 3, "mcp_integration": {"max_connections": 0}, "store": {"backend": "x"}}, env=NO_ENV)
    assert str(info.value).splitlines() == [
        "debug: expected true or false, got 3",
        "mcp_integration.max_connections: expected a positive integer, got 0",
        "store.backend: expected one of 'sqlite', 'postgresql', got 'x'",
    ]
    assert info.value.path == "debug"


def test_direct_construction_raises_config_error_with_full_path() -> None:
    with pytest.raises(ConfigError, match=r"^mcp_integration\.max_connections: expected a positive integer, got 0$"):
        KaizenConfig(mcp_integration={"max_connections": 0})
    with pytest.raises(ConfigError, match=r"^security\.auth\.max_failed_attempts: expected a positive integer"):
        AuthConfig(max_failed_attempts=-1)


def test_assignment_is_validated() -> None:
    cfg = KaizenConfig()
    with pytest.raises(ConfigError, match=r"^mcp_integration\.max_connections: expected a positive integer, got 0$"):
        cfg.mcp_integration.max_connections = 0
    with pytest.raises(ConfigError, match=r"^debugg: unknown setting \(did you mean 'debug'\?\)"):
        cfg.debugg = True
    cfg.debug = True
    assert cfg.debug is True


# ------------------------------------------------------------------------------------------ unknown keys


def test_unknown_top_level_key_suggests_the_closest() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"transparncy_enabled": True}, env=NO_ENV)
    assert str(info.value).startswith("transparncy_enabled: unknown setting (did you mean 'transparency_enabled'?); "
                                      "known settings: debug, memory_enabled,")
    assert info.value.path == "transparncy_enabled"


def test_unknown_nested_key_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"^mcp_integration\.max_conections: unknown setting "
                                          r"\(did you mean 'max_connections'\?\); known settings: auto_discover"):
        load_config({"mcp_integration": {"max_conections": 3}}, env=NO_ENV)


def test_unknown_key_without_a_close_match_lists_known_settings() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"security": {"zzz": 1}}, env=NO_ENV)
    assert str(info.value) == ("security.zzz: unknown setting; known settings: encryption_enabled, audit_logging, "
                               "audit_path, rbac_enabled, redact_secrets, auth")


def test_unknown_key_in_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_text("tracing:\n  retention: 5\n")
    with pytest.raises(ConfigError, match=r"^tracing\.retention: unknown setting \(did you mean 'retention_runs'\?\)"):
        load_config(path, env=NO_ENV)


# ------------------------------------------------------------------------------------------ bad sources


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"^configuration file not found: 'missing\.yaml'$"):
        load_config("missing.yaml", env=NO_ENV)


def test_missing_file_without_suffix_hints_at_text() -> None:
    with pytest.raises(ConfigError, match=r"configuration file not found: 'kaizen' \(or pass YAML/JSON text"):
        load_config("kaizen", env=NO_ENV)


def test_invalid_yaml_reports_the_position() -> None:
    with pytest.raises(ConfigError, match=r"^invalid YAML in the configuration text at line 2, column 9: "
                                          r"mapping values are not allowed here$"):
        load_config("debug: true\nfoo: bar: baz\n", env=NO_ENV)


def test_invalid_json_file_reports_the_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"debug": true,\n "x": }')
    with pytest.raises(ConfigError, match=r"^invalid JSON in .*bad\.json at line 2, column 7: Expecting value$"):
        load_config(path, env=NO_ENV)


def test_non_mapping_document() -> None:
    with pytest.raises(ConfigError, match=r"must be a mapping of settings \(e\.g\. 'debug: true'\), got list"):
        load_config("- a\n- b\n", env=NO_ENV)


def test_unsupported_source_type() -> None:
    with pytest.raises(ConfigError, match=r"^cannot load a configuration from int; pass a dict"):
        load_config(42, env=NO_ENV)  # type: ignore[arg-type]


def test_empty_text() -> None:
    with pytest.raises(ConfigError, match="empty configuration text"):
        load_config("   ", env=NO_ENV)


# ------------------------------------------------------------------------------------------ round trip


def _rich_config() -> KaizenConfig:
    return load_config({
        **SAMPLE,
        "models": {"fast": {"provider": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"}},
        "prices": {"openai:gpt-4o-mini": {"input": 0.15, "output": 0.6}},
        "mcp_integration": {"servers": {"time": {"command": "python", "args": ["-m", "mcp_server_time"]}}},
        "security": {"audit_logging": True, "auth": {"enabled": True, "method": "jwt"}},
        "store": {"backend": "postgresql", "url": "postgresql://kaizen:pw@127.0.0.1:5432/kaizen"},
    }, env=NO_ENV)


def test_to_dict_round_trip() -> None:
    cfg = _rich_config()
    data = cfg.to_dict()
    assert data["mcp_integration"]["servers"]["time"]["args"] == ["-m", "mcp_server_time"]
    assert json.loads(json.dumps(data)) == data  # JSON-compatible
    assert load_config(data, env=NO_ENV) == cfg


def test_to_yaml_round_trip() -> None:
    cfg = _rich_config()
    text = cfg.to_yaml(redact_secrets=False)
    assert text.startswith("debug: true\n")  # field order, not alphabetical
    assert load_config(text, env=NO_ENV) == cfg


def test_to_yaml_round_trip_through_a_file(tmp_path: Path) -> None:
    cfg = _rich_config()
    (tmp_path / "k.yaml").write_text(cfg.to_yaml(redact_secrets=False))
    (tmp_path / "k.json").write_text(cfg.to_json(redact_secrets=False))
    assert load_config(tmp_path / "k.yaml", env=NO_ENV) == cfg
    assert load_config(tmp_path / "k.json", env=NO_ENV) == cfg


def test_store_location_hides_the_password() -> None:
    assert _rich_config().store.location() == "postgresql://kaizen:***@127.0.0.1:5432/kaizen"
