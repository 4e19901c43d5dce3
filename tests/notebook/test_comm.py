"""The kernel side of the JupyterLab extension: signature checks and sidebar state over the comm."""

from __future__ import annotations

import time
from typing import Any

from pydantic import TypeAdapter

from kaizen_lab.agents import Agent
from kaizen_lab.notebook.comm import TARGET, handle_request, register_comm_target
from kaizen_lab.notebook.protocol import Reply
from kaizen_lab.signatures import Signature


def test_check_signature_reports_the_kernel_parsers_error_at_the_column() -> None:
    reply = handle_request({"type": "check_signature", "code": "%%signature QA\nquestion: flaot -> answer",
                            "request_id": "kz-1"}, {})
    assert reply["request_id"] == "kz-1"
    assert reply["errors"] == [{"message": "unknown type 'flaot' (did you mean 'float'?)", "line": 2, "column": 10}]


def test_multiline_errors_count_lines_in_the_cell() -> None:
    code = "%%signature QA\n\nquestion: str\n->\nanswer: Wat  # nope"
    [error] = handle_request({"type": "check_signature", "code": code}, {})["errors"]
    assert (error["line"], error["column"]) == (5, 8)
    assert code.split("\n")[error["line"] - 1][error["column"]:].startswith("Wat")


def test_types_resolve_from_the_notebook_namespace() -> None:
    class Ticket:
        pass

    code = "%%signature T\nticket: Ticket -> summary"
    assert handle_request({"type": "check_signature", "code": code}, {"Ticket": Ticket})["errors"] == []
    assert handle_request({"type": "check_signature", "code": code}, {})["errors"][0]["message"].startswith(
        "unknown type 'Ticket'")


def test_missing_name_and_empty_body_are_reported() -> None:
    assert "needs a NAME" in handle_request({"type": "check_signature", "code": "%%signature\nq -> a"},
                                            {})["errors"][0]["message"]
    assert "no signature" in handle_request({"type": "check_signature", "code": "%%signature QA\n\n"},
                                            {})["errors"][0]["message"]


def test_state_lists_signatures_agents_and_runs() -> None:
    from kaizen_lab.tracing import Tracer

    tracer = Tracer(store=False).start()
    try:
        agent = Agent("qa", "question -> answer", model="test", tools=[])
        result = agent.execute(question="hi")
    finally:
        tracer.stop()
    ns = {"QA": Signature("question -> answer"), "qa": agent, "_hidden": agent, "x": 1}
    state = handle_request({"type": "state"}, ns, tracer)
    assert state["signatures"] == [{"name": "QA", "text": "question: str -> answer: str"}]
    assert [(a["name"], a["model"]) for a in state["agents"]] == [("qa", "test:test")]
    assert state["runs"][0]["run_id"] == result.run_id and state["runs"][0]["status"] == "ok"
    assert state["runs"][0]["input"] == "hi" and abs(state["runs"][0]["started"] - time.time()) < 120
    trace = handle_request({"type": "trace", "run_id": result.run_id}, ns, tracer)
    assert trace["run_id"] == result.run_id and "class='kaizen-trace'" in trace["html"]
    assert "data-kind='model'" in trace["html"]
    assert "no events recorded" in handle_request({"type": "trace", "run_id": "nope"}, ns, tracer)["html"]
    replies = TypeAdapter(Reply)  # both replies are messages of the typed protocol
    assert replies.validate_python(state, strict=True) == state
    assert replies.validate_python(trace, strict=True) == trace


def test_state_request_reports_the_theme_figures_use() -> None:
    from kaizen_lab.notebook.theme import current_theme, set_theme

    try:
        handle_request({"type": "state", "theme": "dark"}, {})
        assert current_theme() == "dark"
        handle_request({"type": "state", "theme": "<nonsense>"}, {})
        assert current_theme() == "dark"
    finally:
        set_theme("auto")
    assert current_theme() == "light"


def test_unknown_request_type_is_answered_not_raised() -> None:
    assert "unknown request type 'nope'" in handle_request({"type": "nope"}, {})["error"]


class _Comm:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.handler: Any = None

    def on_msg(self, fn: Any) -> None:
        self.handler = fn

    def send(self, data: dict[str, Any]) -> None:
        self.sent.append(data)


class _Manager:
    def __init__(self) -> None:
        self.targets: dict[str, Any] = {}

    def register_target(self, name: str, fn: Any) -> None:
        self.targets[name] = fn

    def unregister_target(self, name: str, fn: Any) -> Any:
        return self.targets.pop(name)


class _Kernel:
    def __init__(self) -> None:
        self.comm_manager = _Manager()


class _Shell:
    def __init__(self) -> None:
        self.kernel = _Kernel()
        self.user_ns: dict[str, Any] = {}


def test_registered_target_answers_messages_on_the_comm() -> None:
    shell = _Shell()
    assert register_comm_target(shell)
    comm = _Comm()
    shell.kernel.comm_manager.targets[TARGET](comm, {})
    comm.handler({"content": {"data": {"type": "check_signature", "request_id": "r9",
                                       "code": "%%signature S\na -> a"}}})
    assert comm.sent[0]["request_id"] == "r9"
    assert "both an input and an output" in comm.sent[0]["errors"][0]["message"]


def test_closing_the_channel_removes_the_target() -> None:
    from kaizen_lab.notebook.comm import close_channel

    shell = _Shell()
    assert register_comm_target(shell)
    close_channel(shell)  # what %unload_ext does: no target is left answering with the closed tracer
    assert TARGET not in shell.kernel.comm_manager.targets
    close_channel(shell)  # a second unload finds nothing to remove


def test_plain_shell_without_kernel_registers_nothing(ip: Any) -> None:
    assert register_comm_target(ip) is False


def test_loading_the_extension_again_keeps_its_magics_and_tracer(ip: Any) -> None:
    from kaizen_lab.notebook import load_ipython_extension, magics_for

    magics = magics_for(ip)
    load_ipython_extension(ip)  # e.g. a second `kaizen_lab.load_ipython_extension(get_ipython())`
    assert magics_for(ip) is magics and magics.tracer is not None
