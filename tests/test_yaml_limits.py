"""YAML from users is read within limits: size, depth and alias expansion give ConfigError, never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizen_lab._yaml import load_yaml
from kaizen_lab.config import load_config
from kaizen_lab.errors import ConfigError

LAUGHS = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
                 for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True))


def test_alias_bomb_is_refused_before_it_expands() -> None:
    with pytest.raises(ConfigError, match=r"expands to more than 100,000 values \(anchors and aliases included\)"):
        load_yaml(LAUGHS)


def test_ordinary_anchors_and_merge_keys_still_load() -> None:
    text = "base: &b {model: test, retries: 2}\nqa:\n  <<: *b\n  retries: 3\nlist: [*b, *b]\n"
    assert load_yaml(text)["qa"] == {"model": "test", "retries": 3}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="refers to anchor &m inside itself"):
        load_yaml("a: &m\n  b: *m\n")


@pytest.mark.timeout(60)  # a hang guard only: PyYAML alone takes minutes on this input
@pytest.mark.parametrize("text", ["a: " + "[" * 20_000, "a: " + "{" * 20_000, "- " * 5000 + "x",
                                  "".join(" " * i + "a:\n" for i in range(1000))])
def test_deep_nesting_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="nests deeper than 100 levels"):
        load_yaml(text)


def test_size_and_digit_limits() -> None:
    with pytest.raises(ConfigError, match="over the 10 limit"):
        load_yaml("a: 12345678901", max_bytes=10)
    with pytest.raises(ConfigError, match="a number has more than 4,300 digits; write very long numbers as quoted"):
        load_yaml("n: " + "9" * 5000)
    assert load_yaml(f"n: '{'9' * 5000}'") == {"n": "9" * 5000}


@pytest.mark.parametrize(("source", "message"), [
    ("[" * 10_000 + "]" * 10_000, "nests deeper than 100 levels"),
    ('{"a": ' * 10_000 + "1" + "}" * 10_000, "nests deeper than 100 levels"),
    ('{"debug": ' + "9" * 5000 + "}", "a number has more than 4,300 digits"),
    ("debug: " + "9" * 5000, "a number has more than 4,300 digits"),
    (LAUGHS + "debug: true\n", "expands to more than 100,000 values"),
])
def test_config_text_limits_give_config_errors(source: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(source)


def test_non_utf8_config_file_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "kaizen.yaml"
    path.write_bytes(b"debug: \xff true\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 7\); save it as UTF-8"):
        load_config(path)
