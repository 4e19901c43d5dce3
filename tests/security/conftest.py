"""Shared fixtures for the security tests: a controllable clock and a cheap password hasher."""

from __future__ import annotations

from typing import Any

import pytest


class FakeClock:
    """A POSIX clock that only moves when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fast_hasher() -> Any:
    """argon2id with minimal cost: the same code path as production, without 50 ms per hash."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

