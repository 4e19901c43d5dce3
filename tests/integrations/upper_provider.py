"""A keyless model provider ``upper:`` for distributed tests: answers with the question upper-cased.

Workers import this module (``kaizen-lab worker --import tests.integrations.upper_provider``) so the agent's
model string resolves in their process, the way a project registers its own providers.
"""

from __future__ import annotations

import os

from kaizen_lab.models import FunctionModel
from kaizen_lab.models.registry import register_provider


def upper(messages, info):
    line = next(x for x in messages[-1].content.splitlines() if "question" in x)
    return {"answer": line.split(":", 1)[1].strip().strip('"').upper(), "pid": os.getpid()}


register_provider("upper", lambda name, options: FunctionModel(upper, name="upper"))
