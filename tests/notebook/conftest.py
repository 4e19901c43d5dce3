"""A real IPython ``InteractiveShell`` with kaizen-lab's extension loaded (and the runtime tests' debate to step
through)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.runtime.conftest import debate_workflow  # noqa: F401 - the debugger steps through it too


@pytest.fixture(scope="session")
def _shell() -> Any:
    import plotly.io as pio
    from IPython.core.interactiveshell import InteractiveShell

    pio.renderers.default = "plotly_mimetype"  # no browser renderer in a kernel-less shell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # nothing written under IPYTHONDIR
    shell = InteractiveShell.instance(config=config)
    shell.display_formatter.active_types = shell.display_formatter.format_types
    shell.run_line_magic("load_ext", "kaizen_lab")
    return shell


@pytest.fixture
def ip(_shell: Any) -> Iterator[Any]:
    _shell.reset(new_session=False)
    yield _shell
    _shell.reset(new_session=False)


def cell(ip: Any, source: str) -> Any:
    """Run a cell; fail on an exception; return the cell's value."""
    result = ip.run_cell(source)
    if result.error_before_exec or result.error_in_exec:
        raise result.error_before_exec or result.error_in_exec
    return result.result


def failing(ip: Any, source: str) -> tuple[BaseException, Any]:
    """Run a cell that must fail; return its error and the error card it displayed (the last rich output)."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = ip.run_cell(source)
    assert result.error_in_exec is not None, "the cell should have failed"
    cards = [o for o in captured.outputs if "kaizen-error" in o.data.get("text/html", "")]
    assert cards, f"no error card among the outputs: {captured.outputs}"
    return result.error_in_exec, cards[-1]

