"""Roles mean something by default: RBAC turns on as soon as any role is configured, and only an explicit
``rbac_enabled: false`` turns it off."""

from __future__ import annotations

import pytest

from kaizen_lab.config import SecurityConfig
from kaizen_lab.security import KaizenSecurityManager


def test_viewer_key_cannot_execute_with_default_settings() -> None:
    sec = KaizenSecurityManager()
    assert not sec.rbac_enabled  # nothing configured yet
    viewer = sec.authenticate_bearer("Bearer " + sec.create_api_key("vera", roles=["viewer"]))
    assert sec.rbac_enabled and sec.roles_configured
    decision = sec.authorize_operation(viewer, "execute", "agent/qa")
    assert not decision.allowed and "no rule allows execute:agent/qa" in decision.reason
    assert sec.authorize_operation(viewer, "read", "trace/1").allowed


def test_once_roles_exist_a_key_without_roles_gets_nothing() -> None:
    sec = KaizenSecurityManager()
    sec.create_api_key("ops", roles=["operator"])
    bare = sec.authenticate_bearer("Bearer " + sec.create_api_key("bare"))
    assert not sec.authorize_operation(bare, "execute", "agent/qa").allowed


@pytest.mark.parametrize("configure", [
    lambda sec: sec.add_user("uma", "long enough password", roles=["viewer"]),
    lambda sec: sec.access.assign("uma", "viewer"),
    lambda sec: sec.access.define_role("auditor", ["read:audit/*"]),
])
def test_any_configured_role_turns_rbac_on(configure) -> None:
    sec = KaizenSecurityManager(password_hasher=_fast())
    configure(sec)
    assert sec.rbac_enabled


def test_configured_roles_setting_turns_rbac_on() -> None:
    sec = KaizenSecurityManager({"roles": {"bot": ["execute:agent/nightly-*"]}})
    assert sec.rbac_enabled
    assert not sec.authorize_operation({"principal": "b", "roles": ["bot"]}, "execute", "agent/other").allowed


def test_token_roles_are_held_to_even_without_configured_roles() -> None:
    sec = KaizenSecurityManager(jwt_secret="j" * 40)
    token = sec.authenticate_bearer("Bearer " + sec.issue_token("tess", roles=["viewer"]))
    assert token.ok and not sec.rbac_enabled
    assert not sec.authorize_operation(token, "execute", "agent/qa").allowed


def test_explicit_false_is_the_only_way_off_and_is_said_so() -> None:
    sec = KaizenSecurityManager(SecurityConfig(rbac_enabled=False))
    viewer = sec.authenticate_bearer("Bearer " + sec.create_api_key("vera", roles=["viewer"]))
    decision = sec.authorize_operation(viewer, "execute", "agent/qa")
    assert decision.allowed and "rbac_enabled: false" in decision.reason
    assert SecurityConfig().rbac_enabled is None


def _fast():
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
