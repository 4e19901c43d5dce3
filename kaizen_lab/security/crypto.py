"""Encryption at rest for stored agent state and traces.

Built on ``cryptography``'s Fernet (AES-128-CBC + HMAC-SHA256, authenticated, with a timestamp) through
``MultiFernet``, which is what makes key rotation simple: the first key encrypts, every listed key decrypts,
and ``rotate()`` re-encrypts old data under the first key.

Keys come from (first match wins): the ``keys=`` argument, the ``KAIZEN_ENCRYPTION_KEY`` environment variable
(comma-separated, newest first), or a key file (one key per line, newest first; ``#`` comments allowed).
``cryptography`` is imported only when an ``Encryptor`` is built.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kaizen_lab.errors import ConfigError, SecurityError

__all__ = ["ENV_KEY", "DecryptionError", "Encryptor", "generate_key", "write_key_file"]

ENV_KEY = "KAIZEN_ENCRYPTION_KEY"
_HOW_TO_MAKE = ('python -c "from kaizen_lab.security import generate_key; print(generate_key())"')


class DecryptionError(SecurityError):
    """Data could not be decrypted: another key was used, or the data was changed or truncated."""


def generate_key() -> str:
    """A new random key (URL-safe base64 of 32 bytes), suitable for ``KAIZEN_ENCRYPTION_KEY``."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def write_key_file(path: str | Path, keys: Sequence[str] | None = None) -> Path:
    """Write ``keys`` (default: one new key) to ``path``, readable by the owner only; returns the path."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    content = "\n".join(keys or [generate_key()]) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(path, 0o600)
    return path


def _check_key(key: str, where: str) -> str:
    key = key.strip()
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        # Never echo the key itself: the message may end up in a log.
        raise ConfigError(f"{where}: an encryption key must be 32 bytes in URL-safe base64 (44 characters); "
                          f"make one with: {_HOW_TO_MAKE}", path=where)
    return key


def _read_key_file(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the encryption key file {str(path)!r} ({exc.strerror}); create it "
                          f"with kaizen_lab.security.write_key_file({str(path)!r})", path="key_file") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


class Encryptor:
    """Authenticated encryption with rotation.

    Args:
        keys: keys newest first (the first encrypts; all decrypt).
        key_file: file with one key per line, newest first.
        env: environment variable consulted when no keys are passed.

    Raises:
        ConfigError: no key was found or a key is malformed (the message says how to make one).
    """

    def __init__(self, keys: Iterable[str] | str | None = None, *, key_file: str | Path | None = None,
                 env: str = ENV_KEY) -> None:
        if isinstance(keys, str):
            keys = [keys]
        found: list[tuple[str, str]] = []
        if keys is not None:
            found = [(k, "keys") for k in keys]
        elif os.environ.get(env):
            found = [(k, env) for k in os.environ[env].split(",") if k.strip()]
        elif key_file is not None:
            found = [(k, str(key_file)) for k in _read_key_file(Path(key_file).expanduser())]
        if not found:
            raise ConfigError(f"encryption is enabled but no key was found: set {env} or pass key_file= "
                              f"(make a key with: {_HOW_TO_MAKE})", path=env)
        self._keys = [_check_key(k, where) for k, where in found]
        from cryptography.fernet import Fernet, MultiFernet

        self._fernet = MultiFernet([Fernet(k.encode()) for k in self._keys])

    @property
    def key_count(self) -> int:
        """How many keys can decrypt (the first one encrypts)."""
        return len(self._keys)

    def with_new_key(self, key: str | None = None) -> Encryptor:
        """A new ``Encryptor`` that encrypts with ``key`` (generated when omitted) and still decrypts old data."""
        return Encryptor([key or generate_key(), *self._keys])

    def encrypt(self, data: bytes | str) -> bytes:
        """Encrypt bytes (or UTF-8 text); the token is URL-safe base64 bytes."""
        return self._fernet.encrypt(data.encode() if isinstance(data, str) else bytes(data))

    def decrypt(self, token: bytes | str) -> bytes:
        """Decrypt a token made by any of the keys.

        Raises:
            DecryptionError: none of the keys fits, or the token was modified.
        """
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode() if isinstance(token, str) else bytes(token))
        except InvalidToken:
            raise DecryptionError(
                f"could not decrypt: the data was encrypted with a key that is not among the {len(self._keys)} "
                f"configured key(s), or it was modified. Set {ENV_KEY} to the key used when it was written "
                "(after a rotation list the new key first, then the old ones, comma-separated)") from None

    def decrypt_text(self, token: bytes | str) -> str:
        """Decrypt to UTF-8 text."""
        return self.decrypt(token).decode()

    def encrypt_json(self, value: Any) -> bytes:
        """Encrypt a JSON-compatible value."""
        return self.encrypt(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    def decrypt_json(self, token: bytes | str) -> Any:
        """Decrypt a value stored with ``encrypt_json``."""
        return json.loads(self.decrypt(token))

    def rotate(self, token: bytes | str) -> bytes:
        """Re-encrypt ``token`` under the first (newest) key; raises ``DecryptionError`` if no key fits."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.rotate(token.encode() if isinstance(token, str) else bytes(token))
        except InvalidToken:
            raise DecryptionError("cannot rotate: no configured key decrypts this data; add the key it was "
                                  f"written with after the new one in {ENV_KEY}") from None

    def __repr__(self) -> str:
        return f"Encryptor(keys=<{len(self._keys)} hidden>)"
