"""Fixtures for the model tests: the local wire-format server, the real-requests switch and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kaizen_lab.models._retry import RetryPolicy
from kaizen_lab.models.base import override_allow_real_requests
from tests.models.wire_server import WireServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def _wire_session() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


@pytest.fixture
def wire(_wire_session: WireServer) -> Iterator[WireServer]:
    """The wire-format server, with an empty script and request log for this test."""
    _wire_session.reset()
    yield _wire_session
    leftover = _wire_session.pending
    _wire_session.reset()
    assert leftover == 0, f"{leftover} scripted replies were never requested"


@pytest.fixture
def allow_real() -> Iterator[None]:
    """Hosted-model requests allowed, for servers the test started itself."""
    with override_allow_real_requests(True):
        yield


class FakeClock:
    """An injectable ``sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def policy(self, max_retries: int = 3, **kwargs: Any) -> RetryPolicy:
        """A retry policy on this clock with no jitter (``random`` fixed at 0), unless overridden."""
        return RetryPolicy(max_retries=max_retries, sleep=self.sleep, random=kwargs.pop("random", lambda: 0.0),
                           **kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
