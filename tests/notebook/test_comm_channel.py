"""The extension's comm in a real kernel: none before ``%load_ext``, then exactly one, opened by the kernel,
listed by ``comm_info`` and answering requests; nothing on stderr."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_lab.notebook.comm import TARGET


@pytest.fixture(scope="module")
def kernel() -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _execute(client: Any, code: str) -> list[dict[str, Any]]:
    """Run ``code``; return the iopub messages it caused (until the kernel is idle again)."""
    msg_id = client.execute(code)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return seen
    raise AssertionError(f"no idle after {code!r}")


def _comms(client: Any) -> dict[str, Any]:
    reply = client.comm_info(target_name=TARGET, reply=True, timeout=60)
    return dict(reply["content"]["comms"])


def _stderr(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"]


def test_one_kernel_opened_comm_answers_requests(kernel: Any) -> None:
    assert _comms(kernel) == {}  # before %load_ext: nothing to attach to
    loaded = _execute(kernel, "%load_ext kaizen_lab")
    opened = [m for m in loaded if m["msg_type"] == "comm_open"]
    assert len(opened) == 1 and opened[0]["content"]["target_name"] == TARGET
    comms = _comms(kernel)
    assert list(comms) == [opened[0]["content"]["comm_id"]]
    again = _execute(kernel, "%load_ext kaizen_lab") + _execute(kernel, "%%signature QA\nquestion: str -> answer: str")
    assert not [m for m in again if m["msg_type"] == "comm_open"] and _comms(kernel) == comms  # still one
    assert _stderr(loaded + again) == []

    # the frontend attaches to the listed comm id and sends requests on it, without opening anything
    comm_id = next(iter(comms))
    request = kernel.session.msg("comm_msg", {"comm_id": comm_id,
                                              "data": {"type": "state", "request_id": "kz-1"}})
    kernel.shell_channel.send(request)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            msg = kernel.get_iopub_msg(timeout=5)
        except queue.Empty:
            continue
        if msg["msg_type"] == "comm_msg" and msg["content"]["data"].get("request_id") == "kz-1":
            assert msg["content"]["comm_id"] == comm_id
            assert msg["content"]["data"]["signatures"] == [{"name": "QA", "text": "question: str -> answer: str"}]
            break
    else:
        raise AssertionError("no answer on the comm")


def test_unload_closes_the_comm_and_load_opens_one_again(kernel: Any) -> None:
    _execute(kernel, "%load_ext kaizen_lab")
    closed = _execute(kernel, "%unload_ext kaizen_lab")
    assert [m["msg_type"] for m in closed].count("comm_close") == 1 and _comms(kernel) == {}
    reloaded = _execute(kernel, "%load_ext kaizen_lab")
    assert [m["msg_type"] for m in reloaded].count("comm_open") == 1 and len(_comms(kernel)) == 1
