"""Authentication primitives: API keys, passwords, JWT bearer tokens and failure lockout.

* API keys are random (``kz_<id>_<secret>``), shown once, and stored as ``sha256(salt + key)`` with a per-key
  salt; lookup is by the public id and the comparison is constant-time. A fast hash is right here because the
  keys carry 256 bits of entropy (a slow hash would only slow every request).
* Passwords are human-chosen, so they get argon2id (``argon2-cffi``); bcrypt hashes made elsewhere verify too.
* JWTs are checked by PyJWT for signature, algorithm, issuer and audience; time claims (exp/nbf/iat) are
  checked here against an injectable clock with a leeway, so expiry is testable without sleeping.

Heavy libraries (argon2, bcrypt, jwt) are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kaizen_lab.errors import ConfigError, UserError

__all__ = [
    "ApiKeyStore",
    "AuthResult",
    "JWTAuthority",
    "LockoutTracker",
    "UserStore",
    "hash_api_key",
    "verify_api_key_hash",
]

Clock = Callable[[], float]

_KEY_PREFIX = "kz_"
_MIN_HS_SECRET = 32  # bytes; RFC 7518 §3.2 requires a key at least as long as the HS256 output


@dataclass(frozen=True)
class AuthResult:
    """The outcome of an authentication attempt; truthy when it succeeded.

    Attributes:
        ok: whether the credentials were accepted.
        principal: the authenticated user or service id (``None`` on failure).
        roles: roles granted to the principal (used by ``AccessController``).
        method: ``"api_key"``, ``"password"``, ``"jwt"`` or ``"none"``.
        reason: why it failed (safe to show: never contains the credential).
        claims: verified JWT claims, or key/user metadata.
        expires_at: POSIX time after which the credential stops working (JWT ``exp``), if any.
    """

    ok: bool
    principal: str | None = None
    roles: tuple[str, ...] = ()
    method: str = "none"
    reason: str = ""
    claims: Mapping[str, Any] = field(default_factory=dict)
    expires_at: float | None = None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def user_id(self) -> str | None:
        """Alias of ``principal``."""
        return self.principal

    @classmethod
    def failure(cls, method: str, reason: str, principal: str | None = None) -> AuthResult:
        """A failed result (``principal`` is kept for audit, never treated as authenticated)."""
        return cls(ok=False, principal=principal, method=method, reason=reason)


# ----------------------------------------------------------------------------------------------- API keys


def hash_api_key(key: str, *, salt: str | None = None) -> str:
    """Storable verifier for ``key``: ``"sha256$<salt>$<hex digest>"``."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256((salt + key).encode()).hexdigest()
    return f"sha256${salt}${digest}"


def verify_api_key_hash(key: str, stored: str) -> bool:
    """Constant-time check of ``key`` against a ``hash_api_key`` verifier."""
    try:
        scheme, salt, digest = stored.split("$", 2)
    except ValueError:
        return False
    if scheme != "sha256":
        return False
    candidate = hashlib.sha256((salt + key).encode()).hexdigest()
    return hmac.compare_digest(candidate, digest)


def _key_id(key: str) -> str:
    # Issued keys carry their id; foreign keys are indexed by a fingerprint of the (high-entropy) key.
    parts = key.split("_", 2)
    if key.startswith(_KEY_PREFIX) and len(parts) == 3 and len(parts[1]) == 12:
        return parts[1]
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass
class _KeyRecord:
    key_id: str
    verifier: str
    principal: str
    roles: tuple[str, ...]
    name: str = ""
    created_at: float = 0.0
    revoked: bool = False


class ApiKeyStore:
    """API keys held only as salted hashes; thread-safe."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._keys: dict[str, _KeyRecord] = {}
        self._lock = threading.Lock()

    def create(self, principal: str, roles: Iterable[str] = (), *, name: str = "") -> str:
        """Issue a new key for ``principal``; the plaintext is returned once and never stored."""
        key_id = secrets.token_hex(6)
        key = f"{_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        self.add(key, principal, roles, name=name)
        return key

    def add(self, key: str, principal: str, roles: Iterable[str] = (), *, name: str = "",
            hashed: bool = False) -> str:
        """Register an existing key (or, with ``hashed=True``, a ``key_id:verifier`` pair); returns its id."""
        if hashed:
            key_id, _, verifier = key.partition(":")
            if not verifier.startswith("sha256$"):
                raise ConfigError("hashed API keys look like '<key id>:sha256$<salt>$<digest>' "
                                  "(from ApiKeyStore.export())", path="api_keys")
        else:
            if len(key) < 16:
                raise UserError("API keys must be at least 16 characters; use ApiKeyStore.create() to make one")
            key_id, verifier = _key_id(key), hash_api_key(key)
        with self._lock:
            self._keys[key_id] = _KeyRecord(key_id, verifier, principal, tuple(roles), name, self._clock())
        return key_id

    def revoke(self, key_or_id: str) -> bool:
        """Revoke a key (by plaintext or id); returns whether it existed."""
        key_id = key_or_id if key_or_id in self._keys else _key_id(key_or_id)
        with self._lock:
            record = self._keys.get(key_id)
            if record is None:
                return False
            record.revoked = True
            return True

    def export(self) -> list[dict[str, Any]]:
        """The stored records (ids and verifiers, no plaintext) for saving in a config or database."""
        with self._lock:
            return [{"key": f"{r.key_id}:{r.verifier}", "principal": r.principal, "roles": list(r.roles),
                     "name": r.name, "revoked": r.revoked} for r in self._keys.values()]

    def authenticate(self, key: str) -> AuthResult:
        """Check ``key``; a failure's ``principal`` is the key id (for lockout and audit)."""
        key_id = _key_id(key)
        with self._lock:
            record = self._keys.get(key_id)
        if record is None:
            # Same work as a hit, so timing does not reveal which ids exist.
            verify_api_key_hash(key, "sha256$0$" + "0" * 64)
            return AuthResult.failure("api_key", "unknown API key")
        if not verify_api_key_hash(key, record.verifier):
            return AuthResult.failure("api_key", "invalid API key", principal=f"api_key:{key_id}")
        if record.revoked:
            return AuthResult.failure("api_key", "API key revoked", principal=f"api_key:{key_id}")
        return AuthResult(ok=True, principal=record.principal, roles=record.roles, method="api_key",
                          claims={"key_id": key_id, "name": record.name})

    @property
    def has_roles(self) -> bool:
        """Whether any key was issued with roles."""
        with self._lock:
            return any(r.roles for r in self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)


# ----------------------------------------------------------------------------------------------- passwords


def _password_hasher(fast: bool = False) -> Any:
    from argon2 import PasswordHasher

    if fast:  # for tests and notebooks only: same algorithm, minimal cost
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


@dataclass
class _User:
    username: str
    password_hash: str
    roles: tuple[str, ...]
    disabled: bool = False


class UserStore:
    """Username/password accounts with argon2id hashes (bcrypt ``$2b$`` hashes are accepted too)."""

    def __init__(self, *, hasher: Any = None) -> None:
        self._hasher = hasher
        self._users: dict[str, _User] = {}
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None

    @property
    def hasher(self) -> Any:
        """The ``argon2.PasswordHasher`` in use (created on first use)."""
        if self._hasher is None:
            self._hasher = _password_hasher()
        return self._hasher

    def add(self, username: str, password: str | None = None, roles: Iterable[str] = (), *,
            password_hash: str | None = None) -> None:
        """Add or replace a user from a plaintext password or an existing argon2/bcrypt hash."""
        if not username:
            raise UserError("username must not be empty")
        if (password is None) == (password_hash is None):
            raise UserError(f"add user {username!r}: pass exactly one of password= or password_hash=")
        if password_hash is None:
            assert password is not None
            if len(password) < 8:
                raise UserError(f"password for {username!r} is too short: use at least 8 characters")
            password_hash = self.hasher.hash(password)
        elif not password_hash.startswith(("$argon2", "$2a$", "$2b$", "$2y$")):
            raise ConfigError(f"password hash for {username!r} is neither argon2 nor bcrypt; create one with "
                              "argon2.PasswordHasher().hash(password)", path="users")
        with self._lock:
            self._users[username] = _User(username, password_hash, tuple(roles))

    def remove(self, username: str) -> bool:
        """Delete a user; returns whether it existed."""
        with self._lock:
            return self._users.pop(username, None) is not None

    def _verify(self, password_hash: str, password: str) -> bool:
        if password_hash.startswith("$2"):
            import bcrypt

            return bool(bcrypt.checkpw(password.encode(), password_hash.encode()))
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        try:
            return bool(self.hasher.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def authenticate(self, username: str, password: str) -> AuthResult:
        """Check a username and password."""
        with self._lock:
            user = self._users.get(username)
        if user is None:
            # Hash anyway so an attacker cannot tell unknown users from wrong passwords by timing.
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash(secrets.token_hex(8))
            self._verify(self._dummy_hash, password)
            return AuthResult.failure("password", "unknown user or wrong password", principal=username)
        if not self._verify(user.password_hash, password):
            return AuthResult.failure("password", "unknown user or wrong password", principal=username)
        if user.disabled:
            return AuthResult.failure("password", "account disabled", principal=username)
        if user.password_hash.startswith("$argon2") and self.hasher.check_needs_rehash(user.password_hash):
            user.password_hash = self.hasher.hash(password)  # upgrade to the current cost parameters
        return AuthResult(ok=True, principal=username, roles=user.roles, method="password")

    @property
    def has_roles(self) -> bool:
        """Whether any user has roles."""
        with self._lock:
            return any(u.roles for u in self._users.values())

    def __contains__(self, username: object) -> bool:
        return username in self._users


# ----------------------------------------------------------------------------------------------- JWT


class JWTAuthority:
    """Issue and verify JWT bearer tokens.

    Args:
        secret: HMAC secret (≥ 32 bytes) for ``HS*`` algorithms, or a PEM private key for ``RS*``/``ES*``/``EdDSA``.
        public_key: PEM public key for verifying asymmetric tokens (derived from ``secret`` when omitted).
        algorithm: the one algorithm accepted (never taken from the token header).
        issuer: required ``iss``.
        audience: required ``aud``.
        leeway: seconds of clock skew tolerated on ``exp``/``nbf``/``iat``.
        default_ttl: lifetime of issued tokens, seconds.
        clock: returns the current POSIX time.
    """

    def __init__(self, secret: str | bytes, *, public_key: str | bytes | None = None, algorithm: str = "HS256",
                 issuer: str = "kaizen-lab", audience: str = "kaizen-lab", leeway: float = 30.0,
                 default_ttl: float = 3600.0, clock: Clock = time.time) -> None:
        if algorithm.upper() == "NONE":
            raise ConfigError("JWT algorithm 'none' is not allowed; use HS256 (shared secret) or RS256/ES256",
                              path="security.auth.jwt_algorithm", value=algorithm)
        if algorithm.startswith("HS") and len(secret if isinstance(secret, bytes) else secret.encode()) < _MIN_HS_SECRET:
            raise ConfigError(f"the JWT secret must be at least {_MIN_HS_SECRET} bytes for {algorithm}; generate "
                              "one with: python -c \"import secrets; print(secrets.token_urlsafe(48))\"",
                              path="KAIZEN_JWT_SECRET")
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.leeway = float(leeway)
        self.default_ttl = float(default_ttl)
        self._clock = clock
        self._signing_key = secret
        self._verify_key = public_key if public_key is not None else self._derive_public(secret, algorithm)

    @staticmethod
    def _derive_public(secret: str | bytes, algorithm: str) -> str | bytes:
        if algorithm.startswith("HS"):
            return secret
        from cryptography.hazmat.primitives import serialization

        data = secret.encode() if isinstance(secret, str) else secret
        private = serialization.load_pem_private_key(data, password=None)
        return private.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)

    def issue(self, subject: str, *, roles: Iterable[str] = (), ttl: float | None = None,
              claims: Mapping[str, Any] | None = None) -> str:
        """A signed token for ``subject`` with ``roles``, valid for ``ttl`` seconds."""
        import jwt

        now = self._clock()
        lifetime = self.default_ttl if ttl is None else float(ttl)
        if lifetime <= 0:
            raise UserError(f"token ttl must be positive, got {ttl}")
        payload: dict[str, Any] = dict(claims or {})
        payload.update({"sub": subject, "iss": self.issuer, "aud": self.audience, "iat": int(now),
                        "nbf": int(now), "exp": int(now + lifetime), "jti": secrets.token_hex(8),
                        "roles": list(roles)})
        return str(jwt.encode(payload, self._signing_key, algorithm=self.algorithm))

    def verify(self, token: str) -> AuthResult:
        """Check signature, algorithm, issuer, audience and time claims; never raises for a bad token."""
        import jwt

        try:
            claims = jwt.decode(token, self._verify_key, algorithms=[self.algorithm], audience=self.audience,
                                issuer=self.issuer,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False})
        except jwt.InvalidAudienceError:
            return AuthResult.failure("jwt", "token audience is not accepted here")
        except jwt.InvalidIssuerError:
            return AuthResult.failure("jwt", "token issuer is not trusted")
        except jwt.InvalidSignatureError:
            return AuthResult.failure("jwt", "token signature is invalid (signed with another key)")
        except jwt.InvalidAlgorithmError:
            return AuthResult.failure("jwt", f"token algorithm is not accepted (expected {self.algorithm})")
        except jwt.MissingRequiredClaimError as exc:
            return AuthResult.failure("jwt", f"token lacks the required claim {exc.claim!r}")
        except jwt.DecodeError:
            return AuthResult.failure("jwt", "malformed token")
        except jwt.InvalidTokenError as exc:
            return AuthResult.failure("jwt", f"invalid token ({type(exc).__name__})")
        now = self._clock()
        subject = str(claims["sub"])
        try:
            exp, iat = float(claims["exp"]), float(claims["iat"])
            nbf = float(claims.get("nbf", iat))
        except (TypeError, ValueError):
            return AuthResult.failure("jwt", "token time claims are not numbers", principal=subject)
        if now > exp + self.leeway:
            return AuthResult.failure("jwt", f"token expired {int(now - exp)} s ago; request a new one",
                                      principal=subject)
        if now + self.leeway < nbf or now + self.leeway < iat:
            return AuthResult.failure("jwt", "token is not valid yet (check the clocks)", principal=subject)
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            return AuthResult.failure("jwt", "token 'roles' claim must be a list of strings", principal=subject)
        return AuthResult(ok=True, principal=subject, roles=tuple(roles), method="jwt", claims=claims,
                          expires_at=exp)


# ----------------------------------------------------------------------------------------------- lockout


class LockoutTracker:
    """Lock an identity out after ``max_failures`` failures within ``window`` seconds, with backoff.

    The first lockout lasts ``lockout`` seconds; each further lockout of the same identity before a success
    doubles it, up to ``max_lockout`` (default 64 × ``lockout``). A success (or a quiet ``max_lockout``) resets
    the streak. The identity is whatever the caller counts by; ``KaizenSecurityManager`` uses
    ``(source address, username)`` pairs, never a principal alone (see ``docs/security.md``).
    """

    def __init__(self, max_failures: int = 5, *, window: float = 300.0, lockout: float = 300.0,
                 max_lockout: float | None = None, clock: Clock = time.time) -> None:
        if max_failures < 1:
            raise ConfigError("max_failed_attempts must be at least 1", path="security.auth.max_failed_attempts",
                              value=max_failures)
        self.max_failures = max_failures
        self.window = float(window)
        self.lockout = float(lockout)
        self.max_lockout = float(max_lockout) if max_lockout is not None else self.lockout * 64
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._streak: dict[str, tuple[int, float]] = {}  # identity -> (lockouts in a row, when the last ended)
        self._lock = threading.Lock()

    def locked_for(self, identity: str) -> float:
        """Seconds until ``identity`` may try again (0 when it is not locked)."""
        with self._lock:
            until = self._locked_until.get(identity)
            if until is None:
                return 0.0
            remaining = until - self._clock()
            if remaining <= 0:
                del self._locked_until[identity]
                self._failures.pop(identity, None)
                return 0.0
            return remaining

    def record_failure(self, identity: str) -> bool:
        """Count a failure; returns True when this failure locked the identity."""
        now = self._clock()
        with self._lock:
            failures = self._failures.setdefault(identity, deque())
            failures.append(now)
            while failures and failures[0] < now - self.window:
                failures.popleft()
            if len(failures) >= self.max_failures:
                count, ended = self._streak.get(identity, (0, now))
                if now - ended > self.max_lockout:
                    count = 0  # quiet long enough: start over
                duration = min(self.lockout * (2 ** count), self.max_lockout)
                self._locked_until[identity] = now + duration
                self._streak[identity] = (count + 1, now + duration)
                failures.clear()
                return True
            return False

    def record_success(self, identity: str) -> None:
        """Forget earlier failures (and the backoff streak) of ``identity``."""
        with self._lock:
            self._failures.pop(identity, None)
            self._streak.pop(identity, None)

    def unlock(self, identity: str) -> None:
        """Lift a lockout by hand (an administrator's action)."""
        with self._lock:
            self._locked_until.pop(identity, None)
            self._failures.pop(identity, None)
            self._streak.pop(identity, None)
