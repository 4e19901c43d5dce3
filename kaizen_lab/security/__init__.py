"""Security: authentication, role-based access control, a tamper-evident audit trail, encryption at rest and
secret redaction.

Names load on first use, so ``from kaizen_lab.security import redact_text`` costs only the stdlib ``re``
module, and argon2, PyJWT and cryptography are imported only by the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported eagerly (stdlib ``re`` only): the package attribute ``redact`` must be the function, not the
# submodule of the same name that the import system would otherwise leave there.
from kaizen_lab.security.redact import (
    REDACTED,
    Redactor,
    is_secret_key,
    redact,
    redact_text,
    register_patterns,
)

if TYPE_CHECKING:
    from kaizen_lab.security.asgi import RequestCheck, SecurityMiddleware, check_request
    from kaizen_lab.security.audit import (
        AuditLogger,
        AuditRecord,
        AuditVerification,
        acting_as,
        attach_to_events,
        current_principal,
    )
    from kaizen_lab.security.auth import (
        ApiKeyStore,
        AuthResult,
        JWTAuthority,
        LockoutTracker,
        UserStore,
        hash_api_key,
        verify_api_key_hash,
    )
    from kaizen_lab.security.crypto import DecryptionError, Encryptor, generate_key, write_key_file
    from kaizen_lab.security.manager import KaizenSecurityManager
    from kaizen_lab.security.rbac import AccessController, Decision, Permission, Role

_EXPORTS = {
    # manager
    "KaizenSecurityManager": "manager",
    # authentication
    "ApiKeyStore": "auth",
    "AuthResult": "auth",
    "JWTAuthority": "auth",
    "LockoutTracker": "auth",
    "UserStore": "auth",
    "hash_api_key": "auth",
    "verify_api_key_hash": "auth",
    # access control
    "AccessController": "rbac",
    "Decision": "rbac",
    "Permission": "rbac",
    "Role": "rbac",
    # network channels
    "RequestCheck": "asgi",
    "SecurityMiddleware": "asgi",
    "check_request": "asgi",
    # audit
    "AuditLogger": "audit",
    "AuditRecord": "audit",
    "AuditVerification": "audit",
    "acting_as": "audit",
    "attach_to_events": "audit",
    "current_principal": "audit",
    # encryption
    "DecryptionError": "crypto",
    "Encryptor": "crypto",
    "generate_key": "crypto",
    "write_key_file": "crypto",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kaizen_lab.security' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kaizen_lab.security.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    # manager
    "KaizenSecurityManager",
    # authentication
    "ApiKeyStore",
    "AuthResult",
    "JWTAuthority",
    "LockoutTracker",
    "UserStore",
    "hash_api_key",
    "verify_api_key_hash",
    # access control
    "AccessController",
    "Decision",
    "Permission",
    "Role",
    # network channels
    "RequestCheck",
    "SecurityMiddleware",
    "check_request",
    # audit
    "AuditLogger",
    "AuditRecord",
    "AuditVerification",
    "acting_as",
    "attach_to_events",
    "current_principal",
    # encryption
    "DecryptionError",
    "Encryptor",
    "generate_key",
    "write_key_file",
    # redaction
    "REDACTED",
    "Redactor",
    "is_secret_key",
    "redact",
    "redact_text",
    "register_patterns",
]
