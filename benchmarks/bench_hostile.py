"""Hostile-input figures: how long the worst inputs found by fuzzing take to be refused (goal: well under 1 s).

- ``parse_200k_open_braces_ms``: ``JSONAdapter.parse`` of 200,000 ``{`` (the quadratic parser took 23 s);
- ``parse_200k_open_braces_per_char_ns`` and ``..._2m_...``: the same per character at 200,000 and 2,000,000
  characters; equal figures show linear time (their ratio is ``parse_scaling_ratio``, ~1.0 when linear, ~10
  when quadratic);
- ``yaml_alias_bomb_ms``: loading a nine-level "billion laughs" YAML document (refused as too large);
- ``yaml_deep_flow_ms``: loading ``[`` × 20,000 (refused as too deep; PyYAML alone takes minutes);
- ``export_bad_notebook_ms``: ``export_cells`` of a notebook whose ``%%agent`` body is the alias bomb.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.run import median_seconds, repeats

LAUGHS = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
                 for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True))


def _refused(fn: object, *args: object) -> None:
    try:
        fn(*args)  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - every case here is refused with a typed error; only the time matters
        return
    raise AssertionError("the hostile input was accepted")


def run() -> dict[str, float]:
    from kaizen_lab._yaml import load_yaml
    from kaizen_lab.export import export_cells
    from kaizen_lab.signatures import Signature
    from kaizen_lab.signatures.adapters import JSONAdapter

    sig, adapter = Signature.parse("question -> answer: str, score: int"), JSONAdapter()
    small, large = "{" * 200_000, "{" * 2_000_000
    figures: dict[str, float] = {}
    t_small = median_seconds(lambda: _refused(adapter.parse, sig, small), repeats(7))
    t_large = median_seconds(lambda: _refused(adapter.parse, sig, large), repeats(3))
    figures["parse_200k_open_braces_ms"] = t_small * 1e3
    figures["parse_200k_open_braces_per_char_ns"] = t_small / len(small) * 1e9
    figures["parse_2m_open_braces_per_char_ns"] = t_large / len(large) * 1e9
    figures["parse_scaling_ratio"] = (t_large / len(large)) / (t_small / len(small))
    figures["yaml_alias_bomb_ms"] = median_seconds(lambda: _refused(load_yaml, LAUGHS), repeats(7)) * 1e3
    deep = "a: " + "[" * 20_000
    figures["yaml_deep_flow_ms"] = median_seconds(lambda: _refused(load_yaml, deep), repeats(7)) * 1e3
    with tempfile.TemporaryDirectory() as tmp:
        cells = ["import os", "%%agent qa\n" + LAUGHS + "signature: q -> a\ntools: *i"]
        figures["export_bad_notebook_ms"] = median_seconds(
            lambda: _refused(export_cells, cells, Path(tmp) / "out"), repeats(7)) * 1e3
    return figures
