"""Encryption at rest for the trace store's payload columns.

With ``security.encryption_enabled`` the run store keeps every column that can hold user data (inputs,
outputs, attributes, errors, event data) as authenticated ciphertext (``kaizen_lab.security.crypto``,
Fernet): nothing a run saw reaches the database file or its WAL in plain text. Ids, agent ids, kinds,
statuses, times and counters stay clear so the store can still be queried, sorted and pruned.

The codec works on whole rows in the store's column order, at the one place rows are written and read, so the
store's own layout and batching stay its business. A ciphertext value is ``"enc:v1:<token>"``; reading a
plain value (written before encryption was turned on) returns it as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["ENCRYPTED_COLUMNS", "PayloadCodec", "codec_for"]

#: columns that may hold what a run saw (the rest are ids, names, numbers and times)
ENCRYPTED_COLUMNS = frozenset({"inputs", "outputs", "attributes", "error", "data", "events"})
_PREFIX = "enc:v1:"


class PayloadCodec:
    """Encrypts and decrypts the payload columns of store rows.

    Args:
        encryptor: a ``kaizen_lab.security.Encryptor`` (its first key encrypts; all keys decrypt).
    """

    def __init__(self, encryptor: Any) -> None:
        self.encryptor = encryptor

    def encode(self, value: Any) -> Any:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        return _PREFIX + self.encryptor.encrypt(text).decode("ascii")

    def decode(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(_PREFIX):
            return self.encryptor.decrypt(value[len(_PREFIX):]).decode()
        return value

    def positions(self, columns: Sequence[str]) -> tuple[int, ...]:
        """Indexes of the encrypted columns in a row of ``columns``."""
        return tuple(i for i, c in enumerate(columns) if c in ENCRYPTED_COLUMNS)

    def encode_rows(self, rows: Iterable[tuple[Any, ...]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows in ``columns`` order with their payload columns encrypted."""
        where = self.positions(columns)
        out = []
        for row in rows:
            values = list(row)
            for i in where:
                values[i] = self.encode(values[i])
            out.append(tuple(values))
        return out

    def decode_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A row read back as ``{column: value}``, payload columns decrypted (in place)."""
        for name in ENCRYPTED_COLUMNS.intersection(record):
            record[name] = self.decode(record[name])
        return record

    def __repr__(self) -> str:
        return f"PayloadCodec({self.encryptor!r})"


def codec_for(config: Any) -> PayloadCodec | None:
    """The codec a configuration asks for: ``None`` unless ``security.encryption_enabled`` (then the key comes
    from ``KAIZEN_ENCRYPTION_KEY`` or the security key file; a missing key is a ``ConfigError``)."""
    security = getattr(config, "security", None)
    if security is None or not getattr(security, "encryption_enabled", False):
        return None
    from kaizen_lab.security.manager import KaizenSecurityManager

    return PayloadCodec(KaizenSecurityManager(security).encryptor)
