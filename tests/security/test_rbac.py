"""Role-based access control: allow, deny and override tables."""

from __future__ import annotations

import pytest

from kaizen_lab.errors import AuthorizationError, ConfigError
from kaizen_lab.security import AccessController, AuthResult, Permission

ROLES = {
    "agent-runner": ["execute:agent/*"],
    "fs-reader": ["call:tool/filesystem.read*", "call:tool/filesystem.list"],
    "tools": {"allow": ["call:tool/*"], "deny": ["call:tool/shell*"]},
    "no-prod": ["!execute:agent/prod-*"],
    "lead": {"inherits": ["agent-runner", "tools"], "allow": ["write:agent/*"]},
    "auditor": ["read:audit/*", "!read:audit/secrets"],
}


@pytest.fixture
def controller() -> AccessController:
    return AccessController(ROLES, assignments={"carol": ["lead"], "dave": ["agent-runner", "no-prod"]})


def user(*roles: str, name: str = "u") -> AuthResult:
    return AuthResult(ok=True, principal=name, roles=roles, method="jwt")


@pytest.mark.parametrize(
    ("roles", "operation", "resource", "allowed"),
    [
        (("agent-runner",), "execute", "agent/qa", True),
        (("agent-runner",), "execute", "agent/team/qa", True),  # fnmatch '*' spans '/'
        (("agent-runner",), "execute", "workflow/qa", False),
        (("agent-runner",), "call", "tool/filesystem.read", False),
        (("fs-reader",), "call", "tool/filesystem.read", True),
        (("fs-reader",), "call", "tool/filesystem.read_many", True),
        (("fs-reader",), "call", "tool/filesystem.list", True),
        (("fs-reader",), "call", "tool/filesystem.write", False),
        (("tools",), "call", "tool/search", True),
        (("tools",), "call", "tool/shell", False),  # deny in the same role
        (("tools",), "call", "tool/shell.exec", False),
        (("admin",), "execute", "agent/anything", True),  # admin:* implies every operation
        (("admin",), "delete", "audit/log", True),
        (("viewer",), "read", "trace/run-1", True),
        (("viewer",), "execute", "agent/qa", False),
        ((), "read", "trace/run-1", False),
        (("no-such-role",), "read", "trace/run-1", False),
        (("auditor",), "read", "audit/2026", True),
        (("auditor",), "read", "audit/secrets", False),
        (("lead",), "execute", "agent/qa", True),  # inherited
        (("lead",), "call", "tool/shell", False),  # inherited deny
        (("lead",), "write", "agent/qa", True),
        (("agent-runner",), "Execute", "agent/qa", False),  # case-sensitive
    ],
)
def test_allow_and_deny_table(controller: AccessController, roles: tuple[str, ...], operation: str,
                              resource: str, allowed: bool) -> None:
    decision = controller.authorize_operation(user(*roles), operation, resource)
    assert decision.allowed is allowed, decision.reason
    assert bool(decision) is allowed


@pytest.mark.parametrize(
    ("roles", "operation", "resource"),
    [
        (("admin", "no-prod"), "execute", "agent/prod-billing"),  # deny from another role beats admin:*
        (("agent-runner", "no-prod"), "execute", "agent/prod-1"),
        (("tools", "admin"), "call", "tool/shell"),
    ],
)
def test_deny_overrides_allow_from_any_role(controller: AccessController, roles: tuple[str, ...], operation: str,
                                           resource: str) -> None:
    decision = controller.authorize_operation(user(*roles), operation, resource)
    assert not decision.allowed
    assert decision.reason.startswith("denied by role") and decision.rule and decision.rule.startswith("!")


def test_deny_only_hits_its_pattern(controller: AccessController) -> None:
    assert controller.is_allowed(user("admin", "no-prod"), "execute", "agent/staging-billing")


def test_decision_names_the_rule(controller: AccessController) -> None:
    decision = controller.authorize_operation(user("fs-reader", name="erin"), "call", "tool/filesystem.list")
    assert decision.rule == "call:tool/filesystem.list"
    assert "fs-reader" in decision.reason and decision.principal == "erin"


def test_assigned_roles_apply_to_plain_principals(controller: AccessController) -> None:
    assert controller.is_allowed("carol", "execute", "agent/qa")
    assert not controller.is_allowed("dave", "execute", "agent/prod-x")
    assert not controller.is_allowed("stranger", "read", "trace/1")


def test_failed_authentication_never_authorizes(controller: AccessController) -> None:
    failed = AuthResult(ok=False, principal="carol", roles=("admin",), method="password", reason="wrong password")
    decision = controller.authorize_operation(failed, "read", "trace/1")
    assert not decision.allowed and decision.reason == "not authenticated"


def test_grant_deny_assign_revoke() -> None:
    ac = AccessController(builtin_roles=False)
    ac.grant("ops", "execute:workflow/*")
    ac.assign("frank", "ops")
    assert ac.is_allowed("frank", "execute", "workflow/etl")
    ac.deny("ops", "execute:workflow/etl")
    assert not ac.is_allowed("frank", "execute", "workflow/etl")
    assert ac.is_allowed("frank", "execute", "workflow/other")
    ac.revoke("frank", "ops")
    assert not ac.is_allowed("frank", "execute", "workflow/other")


def test_require_raises_with_the_fix(controller: AccessController) -> None:
    with pytest.raises(AuthorizationError, match=r"u may not call tool/shell: denied by role 'tools'"):
        controller.require(user("tools"), "call", "tool/shell")
    assert controller.require(user("tools"), "call", "tool/search").allowed


@pytest.mark.parametrize("text", ["execute", "execute:", ":agent/*", "exec ute:agent", ""])
def test_malformed_permissions_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="operation:resource-pattern"):
        Permission.parse(text)


def test_unknown_role_assignment_suggests_a_name() -> None:
    with pytest.raises(ConfigError, match="did you mean 'developer'"):
        AccessController().assign("x", "developr")


def test_unknown_role_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="did you mean 'allow'"):
        AccessController({"r": {"alow": ["read:*"]}})
