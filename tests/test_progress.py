"""Progress bars: drawn where someone watches (here: forced on, as in a terminal), silent when turned off or
when nobody watches (a script whose stderr is a pipe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kaizen_lab._progress import progress_enabled
from kaizen_lab.agents import Agent
from kaizen_lab.optimize import PromptOptimizer, evaluate

ITEMS = [{"question": f"q{i}"} for i in range(3)]
DATA = [{"word": w, "answer": w.upper()} for w in ["apple", "pear", "plum", "fig", "kiwi", "lime"]]


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a terminal: stderr counts as watched."""
    monkeypatch.delenv("KAIZEN_PROGRESS", raising=False)
    monkeypatch.setattr("kaizen_lab._progress.MININTERVAL", 0)  # draw every step, however fast
    monkeypatch.setattr("kaizen_lab._progress.DELAY", 0)
    monkeypatch.setattr("kaizen_lab._progress._interactive", lambda: True)


def test_batch_draws_one_bar_to_the_end(watched: Any, capsys: pytest.CaptureFixture[str]) -> None:
    Agent("qa", "question -> answer", model="test").batch(ITEMS)
    err = capsys.readouterr().err
    assert "qa batch" in err and "3/3" in err


def test_batch_progress_false_and_a_callback_draw_nothing(watched: Any, capsys: pytest.CaptureFixture[str]) -> None:
    agent = Agent("qa", "question -> answer", model="test")
    agent.batch(ITEMS, progress=False)
    seen: list[tuple[int, int]] = []
    agent.batch(ITEMS, progress=lambda done, total: seen.append((done, total)))
    assert capsys.readouterr().err == "" and seen[-1] == (3, 3)


def test_config_turns_every_bar_off(watched: Any, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KAIZEN_PROGRESS", "false")
    assert progress_enabled() is False
    Agent("qa", "question -> answer", model="test").batch(ITEMS)
    assert capsys.readouterr().err == ""
    assert progress_enabled(True) is True  # the call's own setting wins


def test_evaluate_draws_its_own_bar_not_the_batch_one(watched: Any, capsys: pytest.CaptureFixture[str]) -> None:
    agent = Agent("up", "word -> answer", model="test")
    evaluate(agent, DATA)
    err = capsys.readouterr().err
    assert "evaluate up" in err and "6/6" in err and "batch" not in err


def test_prompt_optimization_counts_candidates_in_one_bar(watched: Any, capsys: pytest.CaptureFixture[str]) -> None:
    agent = Agent("up", "word -> answer", model="test")
    PromptOptimizer("exact_match", propose_instructions=0, demo_sets=2).optimize(agent, DATA)
    err = capsys.readouterr().err
    assert "optimize prompt" in err and "baseline" in err and "candidate" in err
    assert "evaluate" not in err and "batch" not in err


def test_an_optimization_progress_callback_replaces_the_bar(watched: Any,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []
    agent = Agent("up", "word -> answer", model="test")
    PromptOptimizer("exact_match", propose_instructions=0, demo_sets=1,
                    progress=lambda e: seen.append(e["candidate"])).optimize(agent, DATA)
    assert seen[0] == "baseline" and capsys.readouterr().err == ""


def test_local_model_load_shows_a_bar_and_closes_it_on_failure(watched: Any, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from kaizen_lab.errors import UserError
    from kaizen_lab.models.local import LocalModel

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    model = LocalModel(path=str(broken))
    with pytest.raises(UserError, match="cannot load the local model"):
        model.load()
    err = capsys.readouterr().err
    assert f"loading {model.name}" in err and "reading the model header" in err
    assert err.endswith("\r")  # closed: the line is cleared


def test_nobody_watching_a_script_means_no_bar() -> None:
    script = ("from kaizen_lab.agents import Agent\n"
              "Agent('qa', 'question -> answer', model='test').batch([{'question': 'x'}] * 3)\n"
              "print('done')")
    env = {k: v for k, v in __import__("os").environ.items() if k != "KAIZEN_PROGRESS"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done" and out.stderr == ""
