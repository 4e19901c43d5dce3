"""User types of the kind a notebook defines, and the namespace that hands them to the grammar."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import pydantic
import pytest


class Ticket(pydantic.BaseModel):
    title: str
    body: str = ""


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclasses.dataclass
class Passage:
    text: str
    score: float = 0.0


NAMESPACE: dict[str, Any] = {"Ticket": Ticket, "Priority": Priority, "Passage": Passage}


@pytest.fixture
def ns() -> dict[str, Any]:
    return dict(NAMESPACE)
