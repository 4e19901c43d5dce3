"""Role-based access control over ``operation:resource`` permissions.

A permission is ``"<operation>:<resource pattern>"`` with shell-style wildcards (``fnmatch``, case-sensitive):
``execute:agent/*``, ``call:tool/filesystem.*``, ``read:trace/*``. The operation ``admin`` implies every
operation on the matching resources, so ``admin:*`` is a superuser. A role lists ``allow`` and ``deny``
permissions (a bare list means allow; a ``!`` prefix means deny) and may ``inherit`` other roles. Any matching
deny, from any of the principal's roles, overrides every allow; nothing matching means denied.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kaizen_lab.errors import AuthorizationError, ConfigError, did_you_mean

__all__ = ["BUILTIN_ROLES", "AccessController", "Decision", "Permission", "Role"]

#: Roles every controller starts with (override them by defining a role of the same name).
BUILTIN_ROLES: dict[str, dict[str, list[str]]] = {
    "admin": {"allow": ["admin:*"]},
    "developer": {"allow": ["execute:agent/*", "execute:workflow/*", "call:tool/*", "read:*", "write:agent/*"]},
    "operator": {"allow": ["execute:agent/*", "execute:workflow/*", "read:*"]},
    "viewer": {"allow": ["read:*"]},
}

_OPERATION = re.compile(r"^[A-Za-z*?][A-Za-z0-9_.*?\[\]-]*$")


@functools.lru_cache(maxsize=4096)
def _matcher(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


@dataclass(frozen=True)
class Permission:
    """One ``operation:resource`` rule."""

    operation: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Permission:
        """Parse ``"execute:agent/*"``; raises ``ConfigError`` naming the expected shape."""
        operation, sep, resource = text.strip().partition(":")
        if not sep or not operation or not resource or not _OPERATION.match(operation):
            raise ConfigError(f"permission {text!r} must look like 'operation:resource-pattern', e.g. "
                              "'execute:agent/*', 'call:tool/filesystem.*' or 'admin:*'",
                              path="roles", value=text)
        return cls(operation, resource)

    def matches(self, operation: str, resource: str) -> bool:
        """Whether this rule covers ``operation`` on ``resource``."""
        op_ok = self.operation == "admin" or bool(_matcher(self.operation).match(operation))
        return op_ok and bool(_matcher(self.resource).match(resource))

    def __str__(self) -> str:
        return f"{self.operation}:{self.resource}"


@dataclass(frozen=True)
class Role:
    """A named set of allow and deny rules, optionally inheriting other roles."""

    name: str
    allow: tuple[Permission, ...] = ()
    deny: tuple[Permission, ...] = ()
    inherits: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, name: str, spec: Any) -> Role:
        """Build from ``["execute:agent/*", "!call:tool/shell"]`` or ``{allow: [...], deny: [...], inherits: [...]}``."""
        allow: list[str] = []
        deny: list[str] = []
        inherits: list[str] = []
        if isinstance(spec, Role):
            return spec
        if isinstance(spec, str):
            spec = [spec]
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"allow", "deny", "inherits"}
            if unknown:
                key = sorted(unknown)[0]
                raise ConfigError(f"role {name!r}: unknown key {key!r}{did_you_mean(key, ['allow', 'deny', 'inherits'])}"
                                  "; allowed: allow, deny, inherits", path=f"roles.{name}.{key}")
            allow, deny, inherits = list(spec.get("allow", ())), list(spec.get("deny", ())), list(spec.get("inherits", ()))
        elif isinstance(spec, Iterable):
            for item in spec:
                (deny if str(item).startswith("!") else allow).append(str(item).lstrip("!"))
        else:
            raise ConfigError(f"role {name!r} must be a list of permissions or a mapping with allow/deny, "
                              f"got {type(spec).__name__}", path=f"roles.{name}")
        return cls(name, tuple(Permission.parse(p) for p in allow), tuple(Permission.parse(p) for p in deny),
                   tuple(inherits))


@dataclass(frozen=True)
class Decision:
    """The answer to "may ``principal`` do ``operation`` on ``resource``?"; truthy when allowed."""

    allowed: bool
    principal: str | None
    operation: str
    resource: str
    reason: str
    rule: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return self.allowed


def _principal_and_roles(user: Any) -> tuple[str | None, tuple[str, ...] | None]:
    """(principal, roles carried by the object) for a str, an AuthResult-like object or a mapping."""
    if user is None:
        return None, ()
    if isinstance(user, str):
        return user, None
    if isinstance(user, Mapping):
        principal = user.get("principal") or user.get("user_id") or user.get("sub")
        roles = user.get("roles")
        return (str(principal) if principal else None), (tuple(roles) if roles is not None else None)
    if getattr(user, "ok", True) is False:  # a failed AuthResult never carries authority
        return getattr(user, "principal", None), ()
    principal = getattr(user, "principal", None) or getattr(user, "user_id", None)
    roles = getattr(user, "roles", None)
    return (str(principal) if principal else None), (tuple(roles) if roles is not None else None)


class AccessController:
    """Roles → permissions, users → roles, and the decisions; thread-safe.

    Args:
        roles: role definitions (see ``Role.from_spec``), merged over ``BUILTIN_ROLES``.
        assignments: ``{principal: [role, ...]}`` for principals whose credentials do not carry roles.
        builtin_roles: start from ``BUILTIN_ROLES``.
    """

    def __init__(self, roles: Mapping[str, Any] | None = None, *, assignments: Mapping[str, Iterable[str]] | None = None,
                 builtin_roles: bool = True) -> None:
        self._lock = threading.RLock()
        self._roles: dict[str, Role] = {}
        specs = {**(BUILTIN_ROLES if builtin_roles else {}), **dict(roles or {})}
        for name, spec in specs.items():
            self._roles[name] = Role.from_spec(name, spec)
        self._assignments: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (assignments or {}).items()}
        #: whether roles or assignments were configured beyond the built-in roles
        self.customized = bool(roles) or bool(assignments)
        for principal, names in self._assignments.items():
            self._check_roles(names, where=f"assignments.{principal}")

    # -- definitions --------------------------------------------------------------------------------------

    @property
    def roles(self) -> dict[str, Role]:
        """A copy of the role table."""
        with self._lock:
            return dict(self._roles)

    def define_role(self, name: str, spec: Any) -> Role:
        """Add or replace a role."""
        role = Role.from_spec(name, spec)
        with self._lock:
            self._roles[name] = role
            self.customized = True
        return role

    def grant(self, role: str, *permissions: str) -> None:
        """Add allow rules to ``role`` (created if missing)."""
        with self._lock:
            old = self._roles.get(role, Role(role))
            self._roles[role] = Role(role, old.allow + tuple(Permission.parse(p) for p in permissions), old.deny,
                                     old.inherits)
            self.customized = True

    def deny(self, role: str, *permissions: str) -> None:
        """Add deny rules to ``role`` (created if missing); denies override allows."""
        with self._lock:
            old = self._roles.get(role, Role(role))
            self._roles[role] = Role(role, old.allow, old.deny + tuple(Permission.parse(p) for p in permissions),
                                     old.inherits)
            self.customized = True

    def assign(self, principal: str, *roles: str) -> None:
        """Give ``principal`` the ``roles`` (in addition to any it has)."""
        self._check_roles(roles, where=f"assign({principal!r})")
        with self._lock:
            self._assignments[principal] = tuple(dict.fromkeys(self._assignments.get(principal, ()) + roles))
            self.customized = True

    def revoke(self, principal: str, *roles: str) -> None:
        """Take ``roles`` (all roles when none are named) away from ``principal``."""
        with self._lock:
            current = self._assignments.get(principal, ())
            self._assignments[principal] = tuple(r for r in current if roles and r not in roles)

    def roles_of(self, user: Any) -> tuple[str, ...]:
        """Roles of ``user``: those its credentials carry plus those assigned here."""
        principal, carried = _principal_and_roles(user)
        with self._lock:
            assigned = self._assignments.get(principal or "", ())
        return tuple(dict.fromkeys((*(carried or ()), *assigned)))

    def _check_roles(self, names: Iterable[str], *, where: str) -> None:
        for name in names:
            if name not in self._roles:
                raise ConfigError(f"{where}: unknown role {name!r}{did_you_mean(name, self._roles)}; define it "
                                  "with define_role() or in security roles", path=where, value=name)

    def _expand(self, names: Iterable[str]) -> list[Role]:
        seen: dict[str, Role] = {}
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            role = self._roles.get(name)
            if role is None:
                continue  # an unknown role in a token grants nothing
            seen[name] = role
            stack.extend(role.inherits)
        return list(seen.values())

    # -- decisions ----------------------------------------------------------------------------------------

    def authorize_operation(self, user: Any, operation: str, resource: str) -> Decision:
        """Decide whether ``user`` may do ``operation`` on ``resource``; the decision says why."""
        principal, _carried = _principal_and_roles(user)
        if getattr(user, "ok", True) is False:
            return Decision(False, principal, operation, resource, "not authenticated")
        role_names = self.roles_of(user)
        with self._lock:
            roles = self._expand(role_names)
        for role in roles:
            for rule in role.deny:
                if rule.matches(operation, resource):
                    return Decision(False, principal, operation, resource,
                                    f"denied by role {role.name!r} rule '!{rule}'", f"!{rule}", role_names)
        for role in roles:
            for rule in role.allow:
                if rule.matches(operation, resource):
                    return Decision(True, principal, operation, resource,
                                    f"allowed by role {role.name!r} rule '{rule}'", str(rule), role_names)
        held = ", ".join(role_names) or "no roles"
        return Decision(False, principal, operation, resource,
                        f"no rule allows {operation}:{resource} (principal has {held})", None, role_names)

    def is_allowed(self, user: Any, operation: str, resource: str) -> bool:
        """Shorthand for ``bool(authorize_operation(...))``."""
        return self.authorize_operation(user, operation, resource).allowed

    def require(self, user: Any, operation: str, resource: str) -> Decision:
        """Like ``authorize_operation`` but raises ``AuthorizationError`` when denied."""
        decision = self.authorize_operation(user, operation, resource)
        if not decision.allowed:
            who = decision.principal or "anonymous"
            raise AuthorizationError(f"{who} may not {operation} {resource}: {decision.reason}. Grant a role "
                                     f"with '{operation}:{resource}' (AccessController.grant/assign) if this "
                                     "is intended")
        return decision
