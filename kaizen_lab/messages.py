"""The shared vocabulary of a conversation: chat messages, the tool calls a model asks for, and the tools it is
offered. The ground floor: models, agents, adapters, MCP and tracing all speak it, and it imports nothing of
the package."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["ImagePart", "Message", "Role", "ToolCall", "ToolSpec"]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to call a tool."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image given to a model with a message: the bytes, their MIME type and where they came from.

    Models that accept images send it as an image (a data URL, a base64 source block); the others get
    ``placeholder()``, a line naming the image and its size, so it is never silently lost.
    """

    data: bytes = field(repr=False)
    mime_type: str = "image/png"
    source: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{self.base64()}"

    def placeholder(self, reason: str = "this model does not take images") -> str:
        """A line naming the image and its size, for a model that is not given it."""
        where = f" from {self.source}" if self.source else ""
        return f"[image {self.mime_type}, {self.size} bytes{where}, not shown: {reason}]"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``tool`` messages carry ``tool_call_id``; assistant messages may carry ``tool_calls``;
    user and tool messages may carry ``images`` after their text."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    images: tuple[ImagePart, ...] = ()

    def text_with_placeholders(self) -> str:
        """``content`` followed by a placeholder line per image: what a text-only model is given."""
        if not self.images:
            return self.content
        return "\n".join([*([self.content] if self.content else []), *(image.placeholder() for image in self.images)])

    def without_images(self) -> Message:
        """This message for a text-only model: images replaced by placeholder lines in ``content``."""
        return self if not self.images else replace(self, content=self.text_with_placeholders(), images=())


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: name, description and JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
