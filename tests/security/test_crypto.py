"""Encryption at rest: round trips, wrong keys, tampering, key sources and rotation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kaizen_lab.errors import ConfigError, SecurityError
from kaizen_lab.security import DecryptionError, Encryptor, generate_key, write_key_file
from kaizen_lab.security.crypto import ENV_KEY


def test_round_trip_bytes_text_and_json() -> None:
    enc = Encryptor(generate_key())
    token = enc.encrypt(b"agent state \x00\xff")
    assert b"agent state" not in token
    assert enc.decrypt(token) == b"agent state \x00\xff"
    assert enc.decrypt_text(enc.encrypt("héllo")) == "héllo"
    assert enc.decrypt_json(enc.encrypt_json({"memory": [1, 2], "k": "v"})) == {"memory": [1, 2], "k": "v"}


def test_same_plaintext_encrypts_differently() -> None:
    enc = Encryptor(generate_key())
    assert enc.encrypt("x") != enc.encrypt("x")


def test_wrong_key_raises_a_typed_error_without_the_key() -> None:
    key, other = generate_key(), generate_key()
    token = Encryptor(key).encrypt("secret state")
    with pytest.raises(DecryptionError, match="encrypted with a key that is not among") as info:
        Encryptor(other).decrypt(token)
    assert isinstance(info.value, SecurityError)
    assert key not in str(info.value) and other not in str(info.value)


def test_modified_ciphertext_is_refused() -> None:
    enc = Encryptor(generate_key())
    token = bytearray(enc.encrypt("balance=100"))
    token[40] ^= 1
    with pytest.raises(DecryptionError):
        enc.decrypt(bytes(token))


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv(ENV_KEY, key)
    assert Encryptor(key).decrypt(Encryptor().encrypt("x")) == b"x"


def test_key_file_is_private_and_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    path = write_key_file(tmp_path / "keys" / "kaizen.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = Encryptor(key_file=path).encrypt("x")
    key = path.read_text().split()[0]
    assert Encryptor(key).decrypt(token) == b"x"


def test_key_file_comments_and_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    new, old = generate_key(), generate_key()
    path = tmp_path / "k"
    path.write_text(f"# newest first\n{new}\n\n{old}\n")
    enc = Encryptor(key_file=path)
    assert enc.key_count == 2 and enc.decrypt(Encryptor(old).encrypt("o")) == b"o"
    with pytest.raises(ConfigError, match="cannot read the encryption key file"):
        Encryptor(key_file=tmp_path / "missing")


def test_no_key_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEY, raising=False)
    with pytest.raises(ConfigError, match=f"set {ENV_KEY} or pass key_file=.*generate_key"):
        Encryptor()


@pytest.mark.parametrize("bad", ["not-a-key", "c2hvcnQ=", "A" * 44 + "!"])
def test_malformed_key_is_a_config_error_that_hides_it(bad: str) -> None:
    with pytest.raises(ConfigError, match="32 bytes in URL-safe base64") as info:
        Encryptor(bad)
    assert bad not in str(info.value)


def test_rotation_reencrypts_under_the_new_key() -> None:
    old = Encryptor(generate_key())
    stored = old.encrypt("state v1")
    rotated = old.with_new_key()
    assert rotated.key_count == 2
    assert rotated.decrypt(stored) == b"state v1"  # old data still readable
    fresh = rotated.rotate(stored)
    with pytest.raises(DecryptionError):
        old.decrypt(fresh)  # now under the new key only
    new_only = Encryptor(rotated._keys[0])
    assert new_only.decrypt(fresh) == b"state v1"
    with pytest.raises(DecryptionError):
        new_only.decrypt(stored)


def test_rotation_with_env_list(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = generate_key(), generate_key()
    stored = Encryptor(old).encrypt("x")
    monkeypatch.setenv(ENV_KEY, f"{new}, {old}")
    enc = Encryptor()
    assert Encryptor(new).decrypt(enc.rotate(stored)) == b"x"


def test_rotate_with_unknown_key_raises() -> None:
    with pytest.raises(DecryptionError, match="cannot rotate"):
        Encryptor(generate_key()).rotate(Encryptor(generate_key()).encrypt("x"))


def test_repr_hides_keys() -> None:
    key = generate_key()
    assert key not in repr(Encryptor(key))
