"""Shared fixtures for tracing tests: a started tracer on an in-memory store, and a sleeping Kailash node."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kailash.nodes.base import Node, NodeParameter, register_node

from kaizen_lab.store import RunStore
from kaizen_lab.tracing import Tracer


@register_node()
class TracingSleepNode(Node):
    """Adds one to ``x`` after sleeping ``ms`` milliseconds (a node of known cost, not a kaizen-lab node)."""

    def get_parameters(self) -> dict[str, NodeParameter]:
        return {"x": NodeParameter(name="x", type=int, required=False, default=0, description="value"),
                "ms": NodeParameter(name="ms", type=int, required=False, default=0, description="sleep")}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        time.sleep(int(kwargs.get("ms") or 0) / 1000)
        return {"x": int(kwargs.get("x") or 0) + 1}


@register_node()
class TracingCountNode(Node):
    """Counts up until 3 (drives a Kailash cycle)."""

    def get_parameters(self) -> dict[str, NodeParameter]:
        return {"count": NodeParameter(name="count", type=int, required=False, default=0, description="n")}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        count = int(kwargs.get("count") or 0) + 1
        return {"count": count, "done": count >= 3}


@register_node()
class TracingFailNode(Node):
    def get_parameters(self) -> dict[str, NodeParameter]:
        return {"x": NodeParameter(name="x", type=int, required=False, default=0, description="value")}

    def run(self, **kwargs: Any) -> dict[str, Any]:
        raise ValueError("the node broke on purpose")


@pytest.fixture
def store() -> Iterator[RunStore]:
    s = RunStore(":memory:", max_runs=None)
    yield s
    s.close()


@pytest.fixture
def tracer(store: RunStore) -> Iterator[Tracer]:
    t = Tracer(store, flush_interval=0.05)
    t.start()
    yield t
    t.stop()
