"""Short errors on a real ``InteractiveShell``: the message and its fix, the full chain on request."""

from __future__ import annotations

import re
from typing import Any

from IPython.utils.capture import capture_output

from kaizen_lab.errors import UserError
from tests.notebook.conftest import cell


def _run(ip: Any, source: str) -> tuple[Any, str]:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return result, re.sub(r"\x1b\[[0-9;]*m", "", captured.stdout)  # IPython's own tracebacks are coloured


def test_a_kaizen_error_in_plain_code_shows_the_message_and_the_fix_not_the_frames(ip: Any) -> None:
    cell(ip, "from kaizen_lab import Agent\nqa = Agent('qa', 'question -> answer', model='test')")
    result, text = _run(ip, "qa.execute(questoin='x')")
    assert isinstance(result.error_in_exec, UserError)  # the cell still fails
    lines = text.strip().splitlines()
    assert lines[0] == ("UserError: unknown input 'questoin' (did you mean 'question'?); "
                        "this signature takes ['question']")
    assert "%kaizen traceback" in lines[-1] and len(lines) == 2
    assert "File " not in text
    with capture_output() as raw:
        ip.run_cell("qa.execute(questoin='x')")
    assert "\x1b[" not in raw.stdout  # no colour codes in the short form


def test_kaizen_traceback_shows_the_full_chain_of_the_last_error(ip: Any) -> None:
    cell(ip, "from kaizen_lab import Agent\nqa = Agent('qa', 'question -> answer', model='test')")
    _run(ip, "qa.execute(questoin='x')")
    full = repr(cell(ip, "%kaizen traceback"))
    assert full.startswith("Traceback (most recent call last):")
    assert "signature.py" in full and "validate_inputs" in full  # the frames inside the library
    assert full.rstrip().endswith("this signature takes ['question']") and "\x1b[" not in full


def test_xmode_verbose_brings_back_ipythons_own_traceback(ip: Any) -> None:
    cell(ip, "from kaizen_lab import Agent\nqa = Agent('qa', 'question -> answer', model='test')")
    ip.run_line_magic("xmode", "Verbose")
    try:
        _, text = _run(ip, "qa.execute(questoin='x')")
    finally:
        ip.run_line_magic("xmode", "Context")
    assert "validate_inputs" in text and len(text.splitlines()) > 10


def test_other_errors_keep_ipythons_traceback(ip: Any) -> None:
    _, text = _run(ip, "def f():\n    return 1 / 0\nf()")
    assert "ZeroDivisionError" in text and "1 / 0" in text


def test_unload_gives_kaizen_errors_back_to_ipython(ip: Any) -> None:
    from kaizen_lab.errors import KaizenError

    ip.run_line_magic("unload_ext", "kaizen_lab")
    try:
        assert KaizenError not in ip.custom_exceptions
        _, text = _run(ip, "from kaizen_lab.errors import UserError\ndef f():\n    raise UserError('boom')\nf()")
        assert "raise UserError('boom')" in text  # IPython's frames again
    finally:
        ip.run_line_magic("load_ext", "kaizen_lab")
    assert KaizenError in ip.custom_exceptions
