"""``MCPOAuth`` options: checked when given, secrets kept out of reprs. The OAuth flows themselves run against
the conformance suite's authorization servers in ``test_conformance.py`` (every ``auth/*`` client scenario,
and the browser with the loopback redirect)."""

from __future__ import annotations

import pytest

from kaizen_lab.errors import ConfigError, UserError
from kaizen_lab.mcp import ClientPolicy, MCPOAuth, server_spec
from kaizen_lab.mcp._oauth import _code_from


def test_authorize_must_be_a_known_way_or_a_function() -> None:
    with pytest.raises(UserError, match="use 'browser', 'follow' or a function"):
        MCPOAuth(authorize="popup")  # type: ignore[arg-type]
    assert MCPOAuth(authorize=lambda url: ("code", None)).redirect_uri == "http://127.0.0.1:33418/callback"


def test_the_client_secret_stays_out_of_reprs() -> None:
    options = MCPOAuth(client_id="app", client_secret="s3cret-value")
    assert "s3cret-value" not in repr(options) and "s3cret-value" not in repr(ClientPolicy(oauth=options))


def test_oauth_true_takes_the_defaults_and_other_values_are_refused() -> None:
    assert isinstance(ClientPolicy(oauth=True).oauth, MCPOAuth) and ClientPolicy(oauth=False).oauth is None
    with pytest.raises(ConfigError, match="oauth= takes MCPOAuth"):
        ClientPolicy(oauth="yes")


def test_the_code_and_state_come_from_the_redirect() -> None:
    assert _code_from("http://127.0.0.1:1/callback?code=abc&state=xyz") == ("abc", "xyz")
    assert _code_from("http://127.0.0.1:1/callback?error=access_denied") is None


def test_a_config_entry_can_ask_for_oauth() -> None:
    assert server_spec({"url": "http://127.0.0.1:9/mcp", "oauth": True}).oauth is True
    assert server_spec({"url": "http://127.0.0.1:9/mcp"}).oauth is False
    with pytest.raises(ConfigError, match="'oauth' is true or false"):
        server_spec({"url": "http://127.0.0.1:9/mcp", "oauth": {"scopes": "x"}})
