"""Every package's public surface: each name in ``__all__`` resolves, and each lazily loaded name is listed."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import kaizen_lab

#: the module-level tables naming what a package's ``__getattr__`` loads on first access
LAZY_TABLES = ("_LAZY", "_EXPORTS")


def _packages() -> list[str]:
    found = ["kaizen_lab"]
    for info in pkgutil.walk_packages(kaizen_lab.__path__, "kaizen_lab."):
        if info.ispkg:
            found.append(info.name)
    return sorted(found)


def _lazy_names(package: ModuleType) -> set[str]:
    names: set[str] = set()
    for table in LAZY_TABLES:
        names |= set(getattr(package, table, {}))
    return names


PACKAGES = _packages()


def test_every_package_is_checked() -> None:
    assert {"kaizen_lab", "kaizen_lab.models", "kaizen_lab.notebook.widgets", "kaizen_lab.security",
            "kaizen_lab.tracing.exporters"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_resolves_and_lists_every_lazy_name(name: str) -> None:
    package = importlib.import_module(name)
    assert isinstance(getattr(package, "__all__", None), list), f"{name} has no __all__ list"
    public = list(package.__all__)  # may be empty: a package whose modules are imported one by one
    assert len(public) == len(set(public)), f"{name}.__all__ lists a name twice"
    lazy = _lazy_names(package)
    if "__getattr__" in vars(package):  # a package that loads names lazily keeps them in a table
        assert lazy, f"{name} defines __getattr__ but no {' or '.join(LAZY_TABLES)} table"
    assert sorted(lazy - set(public)) == [], f"{name}: lazily loaded but missing from __all__"
    unresolved = [attr for attr in public if not hasattr(package, attr)]
    assert unresolved == [], f"{name}.__all__ names what it does not have"
