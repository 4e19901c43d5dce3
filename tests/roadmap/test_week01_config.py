"""Week 1: ``KaizenConfig`` with the roadmap's fields, the feature configs and ``ConfigurationManager``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaizen_lab import (
    ConfigError,
    ConfigurationManager,
    Kaizen,
    KaizenConfig,
    MCPIntegrationConfig,
    SecurityConfig,
)


def test_kaizen_config_takes_the_roadmaps_fields_and_sections() -> None:
    config = KaizenConfig(
        debug=True, memory_enabled=False, optimization_enabled=True,
        signature_programming_enabled=True, mcp_integration_enabled=True, multi_agent_enabled=True,
        transparency_enabled=False,
        mcp_integration=MCPIntegrationConfig(auto_discover=True, registry_url="https://registry.example",
                                             max_connections=10),
        security_config=SecurityConfig(encryption_enabled=False, audit_logging=True),
    )
    assert (config.debug, config.memory_enabled, config.optimization_enabled, config.transparency_enabled) == \
        (True, False, True, False)
    assert config.mcp_integration.max_connections == 10 and config.mcp_integration.auto_discover is True
    # the roadmap's security_config is this project's security section, under either name
    assert config.security.audit_logging is True and config.security_config is config.security
    assert Kaizen(config).security_config.audit_logging is True


def test_security_config_and_security_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="give only one of them"):
        KaizenConfig(security=SecurityConfig(), security_config=SecurityConfig())


@pytest.mark.parametrize("kind", ["dict", "yaml", "json", "config"])
def test_configuration_manager_loads_every_source(kind: str, tmp_path: Path) -> None:
    data = {"debug": True, "mcp_integration": {"max_connections": 3}, "security_config": {"audit_logging": True}}
    source: object
    if kind == "dict":
        source = data
    elif kind == "yaml":
        source = tmp_path / "kaizen.yaml"
        source.write_text("debug: true\nmcp_integration:\n  max_connections: 3\nsecurity_config:\n"
                          "  audit_logging: true\n")
    elif kind == "json":
        source = tmp_path / "kaizen.json"
        source.write_text(json.dumps(data))
    else:
        source = KaizenConfig(**data)
    config = ConfigurationManager().load_config(source)
    assert config.debug is True and config.mcp_integration.max_connections == 3
    assert config.security.audit_logging is True


def test_configuration_manager_errors_name_the_key_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"mcp_integration\.max_connections.*-3"):
        ConfigurationManager().load_config({"mcp_integration": {"max_connections": -3}})
    with pytest.raises(ConfigError, match="did you mean 'debug'"):
        ConfigurationManager().load_config({"debgu": True})
