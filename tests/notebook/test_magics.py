"""The magics on a real ``InteractiveShell``: binding, errors as cards, running, completion, formatters."""

from __future__ import annotations

from typing import Any

import pytest

from kaizen_lab.agents.agent import Agent
from kaizen_lab.agents.result import ExecutionResult
from kaizen_lab.errors import SignatureError
from kaizen_lab.notebook.display import RunTrace
from kaizen_lab.signatures.signature import Signature
from tests.notebook.conftest import cell, failing


def test_signature_magic_binds_a_signature_with_notebook_types(ip: Any) -> None:
    cell(ip, "from typing import Literal\nMood = Literal['happy', 'sad']")
    out = cell(ip, '%%signature Review --instructions Rate the review.\n'
                   'text: str  # the review\n->\nmood: Mood  # how it feels\nstars: int')
    sig = ip.user_ns["Review"]
    assert isinstance(sig, Signature) and out is sig
    assert sig.input_names == ("text",) and sig.output_names == ("mood", "stars")
    assert sig.instructions == "Rate the review."
    assert sig.fields["mood"].description == "how it feels"


def test_signature_parse_error_shows_caret_fails_the_cell_and_binds_nothing(ip: Any) -> None:
    error, card = failing(ip, "%%signature Bad\nquestion: str -> answer: Nope")
    assert isinstance(error, SignatureError) and "Bad" not in ip.user_ns
    bundle = card.data
    assert "unknown type 'Nope'" in bundle["text/plain"]
    assert "^" in bundle["text/html"] and "\x1b[" not in bundle["text/plain"]


def test_agent_magic_creates_and_runs_an_agent(ip: Any) -> None:
    cell(ip, "%%signature QA\nquestion: str -> answer: str")
    agent = cell(ip, "%agent qa QA --model test")
    assert isinstance(agent, Agent) and ip.user_ns["qa"] is agent
    result = cell(ip, '%agent run qa question="What is 2+2?" -o -v res')
    assert isinstance(result, ExecutionResult) and ip.user_ns["res"] is result
    assert result.answer == "test answer" and result.inputs == {"question": "What is 2+2?"}
    assert cell(ip, '%agent run qa question="x" -q') is None


def test_agent_magic_signature_text_tools_and_variables(ip: Any) -> None:
    cell(ip, "def add(a: int, b: int) -> int:\n    return a + b\nq = 'from a variable'")
    agent = cell(ip, '%agent calc "question: str -> answer: str" --model test --tools add')
    assert agent.tools.names() == ["add"]
    result = cell(ip, "%agent run calc question=q -o")
    assert result.inputs == {"question": "from a variable"}


def test_agent_magic_errors_are_cards_naming_the_fix(ip: Any) -> None:
    cell(ip, "%agent qa 'question -> answer' --model test")
    _, card = failing(ip, '%agent run qaa question="x"')
    assert "did you mean 'qa'" in card.data["text/plain"]
    _, card = failing(ip, "%agent bad QAX --model test")
    assert "no signature named 'QAX'" in card.data["text/plain"] and "bad" not in ip.user_ns
    _, card = failing(ip, "%agent t2 'question -> answer' --tools nothere")
    assert "no function named 'nothere'" in card.data["text/plain"]
    from kaizen_lab.notebook import magics_for

    error, card = failing(ip, "%agent run qa questoin='x'")
    assert "did you mean 'question'" in card.data["text/plain"]
    assert error is magics_for(ip).last_error


def test_agent_yaml_cell_list_and_show(ip: Any) -> None:
    agent = cell(ip, "%%agent summ\nsignature: 'text: str -> summary: str'\nmodel: test\nmax_retries: 1\n")
    assert agent.max_retries == 1 and agent.signature.output_names == ("summary",)
    _, bad = failing(ip, "%%agent x\nsignature: 'a -> b'\nmodle: test\n")
    assert "did you mean 'model'" in bad.data["text/plain"]
    listing = cell(ip, "%agent list")
    assert "summ" in repr(listing) and "text: str -&gt; summary: str" in listing._repr_mimebundle_()["text/html"]
    view = cell(ip, "%agent show summ")
    assert list(view.figure.layout.meta["nodes"]) == ["input", "model", "output"]


def test_trace_shows_the_last_run_and_its_panel(ip: Any) -> None:
    cell(ip, "%agent qa 'question -> answer' --model test")
    cell(ip, '%agent run qa question="one" -q')
    trace = cell(ip, "%trace")
    assert isinstance(trace, RunTrace) and trace.status == "ok"
    kinds = [e.kind for e in trace.events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and "model_called" in kinds
    panel = cell(ip, "%trace --panel")
    assert panel.layout.meta["runs"] >= 1


def test_kaizen_magic_reports_the_default_model_and_why(ip: Any) -> None:
    text = repr(cell(ip, "%kaizen"))
    assert "default model | local" in text and "no model configured" in text
    assert "blocked (test guard)" in text


@pytest.mark.filterwarnings("ignore:`Completer.complete` is pending deprecation")
def test_completion_of_agents_subcommands_and_fields(ip: Any) -> None:
    cell(ip, "%%signature QA\nquestion: str -> answer: str")
    cell(ip, "%agent qa QA --model test")
    assert ip.complete("", "%agent run ")[1] == ["qa"]
    assert ip.complete("q", "%agent run qa q")[1] == ["question="]
    assert "QA" in ip.complete("Q", "%agent other Q")[1]
    assert "run" in ip.complete("r", "%agent r")[1]


def test_formatters_render_cards_with_text_plain(ip: Any) -> None:
    cell(ip, "%%signature QA\nquestion: str -> answer: str")
    data, _ = ip.display_formatter.format(ip.user_ns["QA"])
    assert "kaizen-signature" in data["text/html"] and data["text/plain"]
    wf = cell(ip, "%agent qa QA --model test").to_workflow()
    data, _ = ip.display_formatter.format(wf)
    assert "3 nodes, 2 connections" in data["text/html"]
    result = cell(ip, '%agent run qa question="x" -o')
    data, _ = ip.display_formatter.format(result)
    assert "kaizen-result" in data["text/html"] and "test answer" in data["text/plain"]


def test_agent_magic_help_documents_its_options(ip: Any) -> None:
    from kaizen_lab.notebook.magics import KaizenMagics

    doc = KaizenMagics.agent.__doc__ or ""
    for option in ("--model", "--tools", "--mcp", "-o", "-v", "-q", "run NAME"):
        assert option in doc


def test_run_streams_progress_into_one_display_handle(ip: Any) -> None:
    from IPython.utils.capture import capture_output

    cell(ip, "%agent qa 'question -> answer' --model test")
    with capture_output() as captured:
        cell(ip, '%agent run qa question="streamed"')
    outputs = captured.outputs
    assert len(outputs) >= 3 and all(o.update for o in outputs[1:])  # one area, updated in place
    progress = [o.data.get("text/html", "") for o in outputs[1:-1]]
    assert any("model" in p and "tokens" in p for p in progress)
    assert "kaizen-result" in outputs[-1].data["text/html"]
    ids = {o.transient.get("display_id") for o in outputs}
    assert len(ids) == 1 and None not in ids


def test_unload_removes_formatters_and_stops_collecting(ip: Any) -> None:
    from kaizen_lab import events as ev
    from kaizen_lab.notebook import magics_for

    cell(ip, "%%signature QA\nquestion: str -> answer: str")
    magics = magics_for(ip)
    ip.run_line_magic("unload_ext", "kaizen_lab")
    try:
        data, _ = ip.display_formatter.format(ip.user_ns["QA"])
        assert "text/html" not in data and magics_for(ip) is None
        seen = len(magics.tracer.runs())
        ev.record(ev.RunStarted(run_id=ev.new_id(), agent_id="x", inputs={}))
        assert not magics.tracer.active and len(magics.tracer.runs()) == seen  # the tracer no longer listens
    finally:
        ip.run_line_magic("load_ext", "kaizen_lab")
    data, _ = ip.display_formatter.format(ip.user_ns["QA"])
    assert "kaizen-signature" in data["text/html"]


def test_trace_by_run_id(ip: Any) -> None:
    cell(ip, "%agent qa 'question -> answer' --model test")
    first = cell(ip, '%agent run qa question="one" -o')
    cell(ip, '%agent run qa question="two" -q')
    trace = cell(ip, f"%trace {first.run_id}")
    assert trace.run_id == first.run_id and trace.events[0].inputs == {"question": "one"}
    assert "no run 'nope'" in failing(ip, "%trace nope")[1].data["text/plain"]


def test_kaizen_export_writes_a_runnable_workflow_from_the_cells_run_so_far(ip: Any, tmp_path) -> None:
    from kaizen_lab.export import run_export

    def run(source: str) -> Any:  # as a kernel runs cells: stored in the history (In)
        result = ip.run_cell(source, store_history=True)
        assert result.success, result.error_in_exec or result.error_before_exec
        return result.result

    run('%%signature QA\nquestion: str  # the question\n->\nanswer: str')
    run('def shout(text: str) -> str:\n    """Shout."""\n    return text.upper()')
    run("%agent qa QA --model test --tools shout")
    run('%agent run qa question="hi" -q')
    table = run(f"%kaizen export {tmp_path / 'out'}")
    assert "qa" in repr(table) and "workflow.py" in repr(table)
    count = ip.execution_count - 2  # the %agent run cell, numbered as the notebook shows it
    assert f"left out | In [{count}]: magic or shell lines only (%agent run qa" in repr(table)
    assert run_export(tmp_path / "out", {"question": "hi"}) == {"answer": "test answer"}
    _, refused = failing(ip, f"%kaizen export {tmp_path / 'out'}")
    assert "--force" in refused.data["text/plain"]


def test_agent_magic_takes_a_model_object_bound_in_the_notebook(ip: Any) -> None:
    cell(ip, "from kaizen_lab.models import FunctionModel\nfm = FunctionModel(lambda m, i: {'answer': 'from fm'})")
    agent = cell(ip, '%agent qa "question -> answer" --model fm')
    assert agent.model is ip.user_ns["fm"]
    assert agent.execute(question="x").answer == "from fm"


def test_one_event_stream_feeds_tracer_store_trace_sidebar_and_panel(ip: Any) -> None:
    from kaizen_lab.notebook import magics_for
    from kaizen_lab.notebook.comm import handle_request
    from kaizen_lab.notebook.panels.performance import timeline_figure
    from kaizen_lab.store import RunStore
    from kaizen_lab.tracing import Tracer
    from kaizen_lab.tracing.tracer import trace_from_store

    def key(events: Any) -> list[tuple[str, float]]:
        return [(e["kind"], e["ts"]) if isinstance(e, dict) else (e.kind, e.ts) for e in events]

    magics = magics_for(ip)
    store = RunStore(":memory:", max_runs=None)
    with Tracer(store) as stored:  # a second tracer on the same stream, writing to a store
        cell(ip, "%agent qa 'question -> answer' --model test")
        result = cell(ip, '%agent run qa question="one stream" -o -q')
    stored.flush()
    expected = key(result.events)  # the run's own record of its stream
    assert len(expected) > 8
    assert key(magics.tracer.events(result.run_id)) == expected
    assert key(magics.tracer.get(result.run_id).events) == expected
    assert key(trace_from_store(store, result.run_id).events) == expected  # type: ignore[union-attr]
    shown = cell(ip, "%trace")
    assert shown.run_id == result.run_id and key(shown.events) == expected
    assert shown.trace.run.run_id == result.run_id and shown.trace.run.status == "ok"
    state = handle_request({"type": "state"}, ip.user_ns, magics.tracer)
    assert (state["runs"][0]["run_id"], state["runs"][0]["status"]) == (result.run_id, "ok")
    bars = list(timeline_figure(shown.events).data[0].y)
    assert bars == [e.name or e.step for e in result.events if e.kind == "step_finished"]
    store.close()


def test_trace_reads_the_tracer_and_tracing_can_be_turned_off(ip: Any) -> None:
    from kaizen_lab.config import KaizenConfig
    from kaizen_lab.notebook import magics_for
    from kaizen_lab.notebook.magics import notebook_tracer

    magics = magics_for(ip)
    assert magics.tracer is not None and magics.tracer.active and magics.tracer.store is None
    assert notebook_tracer(KaizenConfig(tracing={"enabled": False})) is None
