"""``KaizenSecurityManager``: one object that authenticates, authorizes, audits, encrypts and redacts.

Network channels (the MCP HTTP server, deployed agents) call ``authenticate_bearer(header)`` or
``authenticate_headers(headers)`` and refuse the request unless the result is truthy, then
``authorize_operation``/``require`` for the operation. Every decision is written to the audit trail when
``audit_logging`` is on.

Settings come from ``kaizen_lab.config.SecurityConfig`` (or a dict of the same shape, or ``None`` for the
defaults). A few security-only settings that the config file does not define yet can be given in the same dict
or as keyword arguments: ``roles``, ``assignments``, ``jwt_secret``, ``jwt_issuer``, ``jwt_audience``,
``jwt_algorithm``, ``leeway_seconds``, ``key_file``, ``audit_key``, ``audit_witness``, ``redact_patterns``.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kaizen_lab.errors import AuthenticationError, AuthorizationError, ConfigError, did_you_mean
from kaizen_lab.redact import Redactor
from kaizen_lab.security.auth import ApiKeyStore, AuthResult, JWTAuthority, LockoutTracker, UserStore
from kaizen_lab.security.rbac import AccessController, Decision

__all__ = ["JWT_SECRET_ENV", "KaizenSecurityManager"]

JWT_SECRET_ENV = "KAIZEN_JWT_SECRET"
#: an address may fail this many times ``max_failed_attempts`` password logins (over all usernames) before
#: its password logins pause
SPRAY_FACTOR = 4

_EXTRA_DEFAULTS: dict[str, Any] = {
    "roles": None, "assignments": None, "jwt_secret": None, "jwt_issuer": "kaizen-lab",
    "jwt_audience": "kaizen-lab", "jwt_algorithm": "HS256", "leeway_seconds": 30.0, "key_file": None,
    "audit_key": None, "audit_witness": "auto", "redact_patterns": (),
}
_BASE_DEFAULTS: dict[str, Any] = {
    "encryption_enabled": False, "audit_logging": False, "audit_path": ".kaizen/audit.db", "rbac_enabled": None,
    "redact_secrets": True,
}
_AUTH_DEFAULTS: dict[str, Any] = {
    "enabled": False, "method": "none", "token_ttl_seconds": 3600, "max_failed_attempts": 5, "lockout_seconds": 300,
}


def _split_config(config: Any) -> tuple[Any, dict[str, Any]]:
    """(SecurityConfig-like object, extra security-only settings) from a config object, a dict or None."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        extras = {k: getattr(config, k) for k in _EXTRA_DEFAULTS if hasattr(config, k)}
        return config, extras
    data = dict(config)
    extras = {k: data.pop(k) for k in list(data) if k in _EXTRA_DEFAULTS}
    try:
        from kaizen_lab.config import SecurityConfig
    except ImportError:  # the config module is optional for this package
        unknown = set(data) - set(_BASE_DEFAULTS) - {"auth"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"security.{key}: unknown setting"
                              f"{did_you_mean(key, [*_BASE_DEFAULTS, *_EXTRA_DEFAULTS, 'auth'])}",
                              path=f"security.{key}") from None
        return _Namespace({**_BASE_DEFAULTS, **data, "auth": _Namespace({**_AUTH_DEFAULTS, **data.get("auth", {})})}), extras
    return SecurityConfig(**data), extras


class _Namespace:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


def _setting(obj: Any, name: str, default: Any) -> Any:
    return getattr(obj, name, default) if obj is not None else default


class KaizenSecurityManager:
    """Authentication, access control, audit, encryption and redaction behind one object.

    Args:
        security_config: a ``SecurityConfig``, a dict of its fields (plus the extra settings listed in the
            module docstring), or ``None``.
        clock: returns POSIX time; inject one to test expiry and lockout without sleeping.
        password_hasher: an ``argon2.PasswordHasher`` (e.g. a cheap one in tests).
        **overrides: any extra setting (``jwt_secret=...``, ``roles=...``) by keyword.

    Example:
        >>> sec = KaizenSecurityManager({"rbac_enabled": True}, jwt_secret="x" * 32)
        >>> key = sec.create_api_key("ci-bot", roles=["operator"])
        >>> sec.authenticate_bearer(f"Bearer {key}").principal
        'ci-bot'
    """

    def __init__(self, security_config: Any = None, *, clock: Callable[[], float] = time.time,
                 password_hasher: Any = None, **overrides: Any) -> None:
        unknown = set(overrides) - set(_EXTRA_DEFAULTS)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"KaizenSecurityManager: unknown setting {key!r}{did_you_mean(key, _EXTRA_DEFAULTS)}",
                              path=key)
        self.config, extras = _split_config(security_config)
        self.settings: dict[str, Any] = {**_EXTRA_DEFAULTS, **extras, **overrides}
        auth = _setting(self.config, "auth", None)
        self._auth = {k: _setting(auth, k, v) for k, v in _AUTH_DEFAULTS.items()}
        self.clock = clock
        self.api_keys = ApiKeyStore(clock=clock)
        self.users = UserStore(hasher=password_hasher)
        lockout = float(self._auth["lockout_seconds"])
        max_failures = int(self._auth["max_failed_attempts"])
        #: password failures per (address, username); see ``_password_attempt``
        self.lockout = LockoutTracker(max_failures, window=lockout, lockout=lockout, clock=clock)
        #: password failures per address over all usernames (a looser limit against spraying)
        self.source_lockout = LockoutTracker(max_failures * SPRAY_FACTOR, window=lockout, lockout=lockout,
                                             clock=clock)
        self.access = AccessController(self.settings["roles"], assignments=self.settings["assignments"])
        self.redactor = Redactor(self.settings["redact_patterns"] or ())
        self._jwt: JWTAuthority | None = None
        self._audit: Any = None
        self._encryptor: Any = None
        self._lock = threading.Lock()

    # -- settings ------------------------------------------------------------------------------------------

    @property
    def audit_enabled(self) -> bool:
        """Whether decisions are written to the audit trail."""
        return bool(_setting(self.config, "audit_logging", False))

    @property
    def rbac_enabled(self) -> bool:
        """Whether permissions are checked for every principal.

        ``security.rbac_enabled`` true or false decides; left unset (the default) it is on as soon as any role
        or permission is configured: custom roles, assignments, or an API key or user created with roles.
        When it is off every authenticated principal may do everything, except that a credential carrying
        roles (a JWT's ``roles`` claim) is still held to them.
        """
        setting = _setting(self.config, "rbac_enabled", None)
        if setting is not None:
            return bool(setting)
        return self.roles_configured

    @property
    def roles_configured(self) -> bool:
        """Whether any role or permission has been configured (which turns RBAC on unless it is set false)."""
        return self.access.customized or self.api_keys.has_roles or self.users.has_roles

    @property
    def encryption_enabled(self) -> bool:
        """Whether stored agent state and traces are encrypted."""
        return bool(_setting(self.config, "encryption_enabled", False))

    # -- lazily built parts --------------------------------------------------------------------------------

    @property
    def jwt(self) -> JWTAuthority:
        """The token issuer/verifier (secret from ``jwt_secret``, ``KAIZEN_JWT_SECRET`` or a random one)."""
        with self._lock:
            if self._jwt is None:
                secret = self.settings["jwt_secret"] or os.environ.get(JWT_SECRET_ENV)
                # Without a configured secret, tokens are valid only for this manager (not across restarts).
                secret = secret or secrets.token_urlsafe(48)
                self._jwt = JWTAuthority(secret, algorithm=self.settings["jwt_algorithm"],
                                         issuer=self.settings["jwt_issuer"], audience=self.settings["jwt_audience"],
                                         leeway=float(self.settings["leeway_seconds"]),
                                         default_ttl=float(self._auth["token_ttl_seconds"]), clock=self.clock)
            return self._jwt

    @property
    def audit(self) -> Any:
        """The ``AuditLogger`` (``None`` when audit logging is off)."""
        if not self.audit_enabled:
            return None
        with self._lock:
            if self._audit is None:
                from kaizen_lab.security.audit import AuditLogger

                self._audit = AuditLogger(_setting(self.config, "audit_path", ".kaizen/audit.db"),
                                          key=self.settings["audit_key"], witness=self.settings["audit_witness"])
            return self._audit

    @property
    def encryptor(self) -> Any:
        """The ``Encryptor``; raises ``ConfigError`` when encryption is off or no key is configured."""
        if not self.encryption_enabled:
            raise ConfigError("encryption is not enabled: set security.encryption_enabled: true and "
                              "KAIZEN_ENCRYPTION_KEY", path="security.encryption_enabled")
        with self._lock:
            if self._encryptor is None:
                from kaizen_lab.security.crypto import Encryptor

                self._encryptor = Encryptor(key_file=self.settings["key_file"])
            return self._encryptor

    def close(self) -> None:
        """Close the audit database."""
        if self._audit is not None:
            self._audit.close()
            self._audit = None

    # -- identities ----------------------------------------------------------------------------------------

    def create_api_key(self, principal: str, roles: Iterable[str] = (), *, name: str = "") -> str:
        """Issue an API key (returned once; only its salted hash is kept)."""
        return self.api_keys.create(principal, roles, name=name)

    def add_user(self, username: str, password: str, roles: Iterable[str] = ()) -> None:
        """Add a username/password account (argon2id-hashed)."""
        self.users.add(username, password, roles)

    def issue_token(self, user: Any, ttl: float | None = None, *, roles: Iterable[str] | None = None,
                    claims: Mapping[str, Any] | None = None) -> str:
        """A signed JWT for ``user`` (a principal id or an ``AuthResult``), valid ``ttl`` seconds."""
        if isinstance(user, AuthResult):
            if not user.ok:
                raise AuthenticationError(f"cannot issue a token after a failed authentication: {user.reason}")
            subject = user.principal or ""
        else:
            subject = str(user)
        role_list = tuple(roles) if roles is not None else self.access.roles_of(user)
        return self.jwt.issue(subject, roles=role_list, ttl=ttl, claims=claims)

    # -- authentication ------------------------------------------------------------------------------------

    def authenticate_user(self, credentials: Any, *, client: str | None = None) -> AuthResult:
        """Check credentials; never raises for bad credentials (see ``require_authenticated``).

        Args:
            credentials: ``{"api_key": k}``, ``{"username": u, "password": p}``, ``{"token": jwt}``,
                ``{"authorization": "Bearer ..."}``, a ``(username, password)`` tuple, a ``"Bearer ..."``
                string, a JWT or an API key string.
            client: the caller's address; repeated wrong passwords for one username from it pause that
                (address, username) pair, with backoff (see ``docs/security.md``).

        ``security.auth.method`` narrows the bearer credentials accepted: ``"api_key"`` refuses JWTs and
        ``"jwt"`` refuses API keys (passwords are always accepted, e.g. to log in and get a token).
        """
        method, values = self._classify(credentials)
        only = self._auth["method"]
        if only in ("api_key", "jwt") and method in ("api_key", "jwt") and method != only:
            accepted = "API keys" if only == "api_key" else "JWT bearer tokens"
            return self._audit_auth(AuthResult.failure(method, f"this server accepts only {accepted} "
                                                               f"(security.auth.method: {only})"), client)
        if method == "password":
            result = self._password_attempt(values[0], values[1], client)
        elif method == "api_key":
            # API keys carry 256 random bits and JWTs are signed: a failed attempt proves nothing and cannot
            # be the start of a successful guess, so it never locks the key, its principal or the address.
            result = self.api_keys.authenticate(values[0])
        elif method == "jwt":
            result = self.jwt.verify(values[0])
        else:
            result = AuthResult.failure("none", values[0])
        return self._audit_auth(result, client)

    def _password_attempt(self, username: str, password: str, client: str | None) -> AuthResult:
        """Passwords are guessable, so failures are throttled per (address, username) with backoff, plus a
        looser per-address limit on password attempts (spraying many usernames); neither blocks API keys or
        tokens, and no failure locks the user out from other addresses."""
        source = client or "local"
        pair, spray = f"{source}|{username}", source
        wait = max(self.lockout.locked_for(pair), self.source_lockout.locked_for(spray))
        if wait > 0:
            return AuthResult.failure("password", f"too many failed password attempts from this address; "
                                                  f"locked out for {int(wait) + 1} s", principal=username)
        result = self.users.authenticate(username, password)
        if result.ok:
            self.lockout.record_success(pair)  # the address-wide count is kept: one good account must not
        else:                                  # reset an attacker's spraying budget
            self.lockout.record_failure(pair)
            self.source_lockout.record_failure(spray)
        return result

    @staticmethod
    def _classify(credentials: Any) -> tuple[str, tuple[str, ...]]:
        if isinstance(credentials, AuthResult):
            return "none", ("an AuthResult is not a credential; pass the key, token or password",)
        if isinstance(credentials, tuple) and len(credentials) == 2:
            return "password", (str(credentials[0]), str(credentials[1]))
        if isinstance(credentials, Mapping):
            lowered = {str(k).lower().replace("-", "_"): v for k, v in credentials.items()}
            if "username" in lowered or "password" in lowered:
                return "password", (str(lowered.get("username") or ""), str(lowered.get("password") or ""))
            for name in ("api_key", "x_api_key", "apikey"):
                if lowered.get(name):
                    return "api_key", (str(lowered[name]),)
            for name in ("token", "jwt", "access_token", "bearer"):
                if lowered.get(name):
                    return "jwt", (str(lowered[name]),)
            if lowered.get("authorization"):
                credentials = str(lowered["authorization"])
            else:
                return "none", ("no credentials: send an API key, a username and password, or a bearer token",)
        if isinstance(credentials, str):
            text = credentials.strip()
            scheme, _, rest = text.partition(" ")
            if rest and scheme.lower() == "bearer":
                text = rest.strip()
            elif rest:
                return "none", (f"unsupported authorization scheme {scheme!r}; use 'Bearer <token or API key>'",)
            if not text:
                return "none", ("empty credentials",)
            if text.count(".") == 2 and text.startswith("eyJ"):
                return "jwt", (text,)
            return "api_key", (text,)
        return "none", (f"unsupported credentials of type {type(credentials).__name__}",)

    def authenticate_bearer(self, header_value: str | None, *, client: str | None = None) -> AuthResult:
        """Check an ``Authorization`` header value (``Bearer <JWT or API key>``); missing → failure."""
        if not header_value or not header_value.strip():
            return self._audit_auth(AuthResult.failure(
                "none", "missing Authorization header; send one whose value is 'Bearer ' followed by a token or "
                "API key"), client)
        scheme, _, token = header_value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._audit_auth(AuthResult.failure(
                "none", "the Authorization header must be 'Bearer <token or API key>'"), client)
        return self.authenticate_user(header_value, client=client)

    def authenticate_headers(self, headers: Mapping[str, str], *, client: str | None = None) -> AuthResult:
        """Check HTTP headers: ``Authorization: Bearer ...`` or ``X-API-Key: ...`` (names case-insensitive)."""
        lowered = {str(k).lower(): v for k, v in headers.items()}
        if lowered.get("authorization"):
            return self.authenticate_bearer(lowered["authorization"], client=client)
        if lowered.get("x-api-key"):
            return self.authenticate_user({"api_key": lowered["x-api-key"]}, client=client)
        return self.authenticate_bearer(None, client=client)

    def require_authenticated(self, credentials: Any, *, client: str | None = None) -> AuthResult:
        """Like ``authenticate_user`` but raises ``AuthenticationError`` on failure."""
        result = self.authenticate_user(credentials, client=client)
        if not result.ok:
            raise AuthenticationError(f"authentication failed: {result.reason}")
        return result

    def _audit_auth(self, result: AuthResult, client: str | None) -> AuthResult:
        if self.audit_enabled:
            self.audit.log_operation(result.principal or "anonymous", "authenticate", f"auth/{result.method}",
                                     "success" if result.ok else "failure",
                                     {"reason": result.reason, "client": client})
        return result

    # -- authorization -------------------------------------------------------------------------------------

    def authorize_operation(self, user: Any, operation: str, resource: str) -> Decision:
        """Decide (and audit) whether ``user`` may do ``operation`` on ``resource``.

        With RBAC off (see ``rbac_enabled``) every authenticated principal without roles is allowed; a failed
        ``AuthResult`` never is.
        """
        carries_roles = bool(getattr(user, "roles", None) or (isinstance(user, Mapping) and user.get("roles")))
        explicit_off = _setting(self.config, "rbac_enabled", None) is False
        if self.rbac_enabled or (carries_roles and not explicit_off):
            decision = self.access.authorize_operation(user, operation, resource)
        else:
            failed = getattr(user, "ok", True) is False or user is None
            principal = getattr(user, "principal", user) if not isinstance(user, str) else user
            decision = Decision(not failed, principal if isinstance(principal, str) else None, operation, resource,
                                "not authenticated" if failed else "access control is off (rbac_enabled: false)")
        self.log_operation(user, operation, resource, "allowed" if decision.allowed else "denied",
                           {"reason": decision.reason})
        return decision

    def require(self, user: Any, operation: str, resource: str) -> Decision:
        """Like ``authorize_operation`` but raises ``AuthorizationError`` when denied."""
        decision = self.authorize_operation(user, operation, resource)
        if not decision.allowed:
            who = decision.principal or "anonymous"
            raise AuthorizationError(f"{who} may not {operation} {resource}: {decision.reason}")
        return decision

    # -- audit, encryption, redaction ----------------------------------------------------------------------

    def audit_events(self, *, principal: str = "local") -> Callable[[], None]:
        """Audit every agent run and tool call from the event stream while audit logging is on.

        Returns a function that stops it (a no-op when audit logging is off, so callers need not check).
        """
        if not self.audit_enabled:
            return lambda: None
        from kaizen_lab.security.audit import attach_to_events

        return attach_to_events(self.audit, principal=principal)

    def acting_as(self, user: Any) -> Any:
        """Context manager attributing audit records of runs and tool calls inside it to ``user``."""
        from kaizen_lab.security.audit import acting_as

        return acting_as(user)

    def log_operation(self, user: Any, operation: str, resource: str, result: Any,
                      details: Mapping[str, Any] | None = None) -> Any:
        """Append to the audit trail when audit logging is on; returns the record or ``None``."""
        if not self.audit_enabled:
            return None
        return self.audit.log_operation(user, operation, resource, result, details)

    def encrypt(self, data: bytes | str) -> bytes:
        """Encrypt with the configured key (see ``Encryptor``)."""
        return bytes(self.encryptor.encrypt(data))

    def decrypt(self, token: bytes | str) -> bytes:
        """Decrypt; raises ``DecryptionError`` for another key or modified data."""
        return bytes(self.encryptor.decrypt(token))

    def redact(self, obj: Any) -> Any:
        """Redacted copy of ``obj`` (built-in patterns plus ``redact_patterns``); unchanged when
        ``redact_secrets`` is off."""
        if not _setting(self.config, "redact_secrets", True):
            return obj
        return self.redactor.obj(obj)
