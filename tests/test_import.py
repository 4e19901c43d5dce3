"""``import kaizen_lab`` stays light, and every public name resolves lazily."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import kaizen_lab

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("kailash", "mcp", "IPython", "ipywidgets", "plotly", "numpy", "openai", "anthropic", "pydantic", "yaml")


def _modules_after(statement: str) -> list[str]:
    code = (f"import sys, json; {statement}; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def test_import_loads_no_heavy_module() -> None:
    loaded = _modules_after("import kaizen_lab")
    assert [m for m in HEAVY if m in loaded] == []


def test_version_and_dir_load_no_heavy_module() -> None:
    loaded = _modules_after("import kaizen_lab; kaizen_lab.__version__; dir(kaizen_lab)")
    assert [m for m in HEAVY if m in loaded] == []


def test_lazy_names_load_only_their_module() -> None:
    loaded = _modules_after("from kaizen_lab import ConfigError, TestModel")
    assert "kaizen_lab" in loaded
    assert [m for m in ("kailash", "mcp", "IPython", "plotly", "numpy", "openai") if m in loaded] == []


def test_every_public_name_resolves() -> None:
    for name in kaizen_lab.__all__:
        assert getattr(kaizen_lab, name) is not None, name


def test_lazy_names_are_the_real_objects() -> None:
    from kaizen_lab.config import load_config
    from kaizen_lab.errors import ConfigError
    from kaizen_lab.framework import Kaizen
    from kaizen_lab.signatures import Signature

    assert kaizen_lab.Kaizen is Kaizen
    assert kaizen_lab.load_config is load_config
    assert kaizen_lab.ConfigError is ConfigError
    assert kaizen_lab.Signature is Signature


def test_dir_lists_lazy_names() -> None:
    names = dir(kaizen_lab)
    assert {"Kaizen", "Agent", "Signature", "TestModel", "__version__", "load_ipython_extension"} <= set(names)


def test_all_has_no_duplicates_and_every_entry_is_known() -> None:
    assert len(kaizen_lab.__all__) == len(set(kaizen_lab.__all__))
    assert set(kaizen_lab.__all__) <= set(dir(kaizen_lab))


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'kaizen_lab' has no attribute 'Kaizn'"):
        kaizen_lab.Kaizn  # noqa: B018


def test_version_matches_the_installed_distribution() -> None:
    from importlib.metadata import version

    assert kaizen_lab.__version__ == version("kaizen-lab")


def test_py_typed_ships() -> None:
    assert (ROOT / "kaizen_lab" / "py.typed").is_file()
