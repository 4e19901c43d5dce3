"""The roadmap's examples, run as a user would paste them: keyless, with the test model.

Every test works in its own directory (stores default to ``.kaizen/`` under the working directory) and builds
its ``Kaizen`` with ``default_model="test"``, the way a user without keys would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    yield
    from kaizen_lab.integrations.dataflow import _close_all
    from kaizen_lab.mcp import close_all

    close_all()
    _close_all()


@pytest.fixture()
def kaizen():  # noqa: ANN201 - the facade under test
    from kaizen_lab import Kaizen

    k = Kaizen(default_model="test")
    yield k
    k.close()


def question_of(messages) -> str:  # noqa: ANN001
    """The text of the last user message after its field label (``question: ...``)."""
    return messages[-1].content.split(":", 1)[1].strip()
