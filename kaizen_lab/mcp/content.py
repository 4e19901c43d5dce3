"""Typed MCP content, kept whole: text, images and audio with their bytes and MIME type, resource links with
URI and name, embedded resources, and blobs as bytes.

``MCPContent`` is one item of a tool result, a resource read or a prompt. It renders itself in a notebook (an
``<img>`` for images, an ``<audio>`` player, a link for resource links, escaped text otherwise), gives a model
its image as an ``ImagePart`` (``as_image``; a model that takes no images turns it into a line naming it) or
its text or a clear placeholder (``[resource link: name <uri>]``), and summarises itself for traces by type and
size (``{"type": "image", "mime_type": "image/png", "size": 68}``) without the payload.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from kaizen_lab.messages import ImagePart

__all__ = ["ContentType", "MCPContent", "MCPReadResult", "MCPToolResult", "content_from_sdk", "contents_html",
           "model_input", "resource_contents_from_sdk", "text_of"]

ContentType = Literal["text", "image", "audio", "resource_link", "resource", "blob"]


def _b64(data: str | bytes | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return base64.b64decode(data + "=" * (-len(data) % 4))


@dataclass(frozen=True)
class MCPContent:
    """One content item. ``data`` holds the decoded bytes of images, audio and blobs; ``text`` holds text (and
    the text of a text resource); ``uri``/``name`` identify resource links and resources."""

    type: ContentType
    text: str | None = None
    data: bytes | None = field(default=None, repr=False)
    mime_type: str | None = None
    uri: str | None = None
    name: str | None = None
    description: str | None = None

    @property
    def size(self) -> int:
        """Bytes of binary content, characters of text (0 for a link)."""
        if self.data is not None:
            return len(self.data)
        return len(self.text or "")

    @property
    def is_binary(self) -> bool:
        return self.data is not None

    def summary(self) -> dict[str, Any]:
        """What a trace records: type, MIME type, size and (for links and resources) URI and name."""
        out: dict[str, Any] = {"type": self.type, "size": self.size}
        if self.mime_type:
            out["mime_type"] = self.mime_type
        if self.uri:
            out["uri"] = self.uri
        if self.name:
            out["name"] = self.name
        return out

    def model_text(self) -> str:
        """The text a model sees: the text itself, or a placeholder that names what was there."""
        if self.type == "text" and self.text is not None:
            return self.text
        if self.type == "resource_link":
            return f"[resource link: {self.name or self.uri} <{self.uri}>" + \
                (f" ({self.mime_type})" if self.mime_type else "") + "]"
        if self.text is not None:  # an embedded text resource
            return f"[resource {self.uri} ({self.mime_type or 'text'})]\n{self.text}"
        where = f" {self.uri}" if self.uri else ""
        return f"[{self.type}{where} {self.mime_type or 'application/octet-stream'}, {self.size} bytes]"

    def as_image(self, source: str | None = None) -> ImagePart | None:
        """The item as an image for a model (an image, or an embedded resource or blob with an ``image/`` type);
        ``None`` for anything else."""
        if self.data is None or not (self.type == "image" or (self.mime_type or "").startswith("image/")):
            return None
        return ImagePart(self.data, self.mime_type or "image/png", self.uri or source)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready data (binary payloads base64-encoded under ``data``)."""
        out = self.summary()
        if self.text is not None:
            out["text"] = self.text
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.description:
            out["description"] = self.description
        return out

    # -- notebook display ----------------------------------------------------------------------------------
    def _data_url(self) -> str:
        return f"data:{self.mime_type or 'application/octet-stream'};base64," + \
            base64.b64encode(self.data or b"").decode("ascii")

    def _repr_html_(self) -> str:
        mime = html.escape(self.mime_type or "")
        if self.type == "image" or (self.data is not None and (self.mime_type or "").startswith("image/")):
            return f'<img src="{html.escape(self._data_url(), quote=True)}" alt="{mime} image, {self.size} bytes">'
        if self.type == "audio" or (self.data is not None and (self.mime_type or "").startswith("audio/")):
            return f'<audio controls src="{html.escape(self._data_url(), quote=True)}"></audio>'
        if self.type == "resource_link":
            label = html.escape(self.name or self.uri or "")
            uri = html.escape(self.uri or "", quote=True)
            return f'<a href="{uri}" title="{uri}">{label}</a> <code>{html.escape(self.uri or "")}</code>' + \
                (f" <small>{mime}</small>" if mime else "")
        if self.data is not None:
            return f"<code>{html.escape(self.uri or self.type)}</code> <small>{mime}, {self.size} bytes</small>"
        head = f"<div><code>{html.escape(self.uri)}</code> <small>{mime}</small></div>" if self.uri else ""
        return f"{head}<pre>{html.escape(self.text or '')}</pre>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        if self.data is not None and self.mime_type in ("image/png", "image/jpeg", "image/gif"):
            bundle[self.mime_type] = base64.b64encode(self.data).decode("ascii")
        return bundle


def model_input(items: Iterable[MCPContent], source: str) -> tuple[str, tuple[ImagePart, ...]]:
    """``(text, images)`` for a model: images travel as ``ImagePart`` (a model that takes none turns each into a
    placeholder line naming it), every other item as its text or placeholder."""
    texts: list[str] = []
    images: list[ImagePart] = []
    for item in items:
        image = item.as_image(source)
        if image is not None:
            images.append(image)
        else:
            texts.append(item.model_text())
    return "\n".join(texts), tuple(images)


def contents_html(items: Iterable[MCPContent]) -> str:
    return "".join(f'<div class="kaizen-mcp-content">{item._repr_html_()}</div>' for item in items)


def content_from_sdk(item: Any) -> MCPContent:
    """One SDK content block (tool result or prompt message) as ``MCPContent``."""
    kind = getattr(item, "type", None)
    if kind == "text":
        return MCPContent("text", text=item.text)
    if kind in ("image", "audio"):
        return MCPContent(kind, data=_b64(item.data), mime_type=item.mime_type)
    if kind == "resource_link":
        return MCPContent("resource_link", uri=str(item.uri), name=item.name, mime_type=item.mime_type,
                          description=getattr(item, "description", None))
    if kind == "resource":
        inner = resource_contents_from_sdk(item.resource)
        return MCPContent("resource", text=inner.text, data=inner.data, mime_type=inner.mime_type, uri=inner.uri)
    return MCPContent("text", text=f"[unsupported content type {kind!r}]")


def resource_contents_from_sdk(item: Any) -> MCPContent:
    """One ``TextResourceContents``/``BlobResourceContents`` (a resource read) as ``MCPContent``."""
    uri = str(getattr(item, "uri", "") or "") or None
    mime = getattr(item, "mime_type", None)
    blob = getattr(item, "blob", None)
    if blob is not None:
        return MCPContent("blob", data=_b64(blob), mime_type=mime, uri=uri)
    return MCPContent("text", text=getattr(item, "text", ""), mime_type=mime, uri=uri)


@dataclass(frozen=True)
class MCPReadResult:
    """A ``resources/read`` answer: ``contents`` (typed), ``text`` (the text parts), ``data`` (the first blob)."""

    uri: str
    server: str
    contents: tuple[MCPContent, ...]

    @property
    def text(self) -> str:
        return "\n".join(c.text for c in self.contents if c.text is not None)

    @property
    def data(self) -> bytes | None:
        return next((c.data for c in self.contents if c.data is not None), None)

    @property
    def mime_type(self) -> str | None:
        return next((c.mime_type for c in self.contents if c.mime_type), None)

    def summary(self) -> list[dict[str, Any]]:
        return [c.summary() for c in self.contents]

    def model_input(self) -> tuple[str, tuple[ImagePart, ...]]:
        """``(text, images)`` for a model: images whole, other items as text (see ``model_input``)."""
        return model_input(self.contents, self.uri)

    def content_summary(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.summary())

    def _repr_html_(self) -> str:
        return f"<div><b>{html.escape(self.uri)}</b> ({html.escape(self.server)})</div>" + \
            contents_html(self.contents)


@dataclass(frozen=True)
class MCPToolResult:
    """A tool's answer. ``content`` keeps every item typed (``MCPContent``: text, image/audio bytes with MIME
    type, resource links, embedded resources); ``text`` is what a model sees (text, or placeholders naming the
    other items); ``value`` is the structured content (``{"result": x}`` unwrapped), else the text, else the
    non-text content itself."""

    tool: str
    server: str
    is_error: bool
    text: str
    structured: Any
    duration_ms: float
    content: tuple[MCPContent, ...] = ()

    @property
    def value(self) -> Any:
        data = self.structured
        if isinstance(data, dict) and list(data) == ["result"]:
            return data["result"]
        if data is not None:
            return data
        if self.has_media:
            return self.content[0] if len(self.content) == 1 else self.content
        return self.text

    @property
    def has_media(self) -> bool:
        """True when some item is not plain text (an image, audio, a link or a resource)."""
        return any(c.type != "text" for c in self.content)

    def model_text(self) -> str:
        return self.text

    def model_input(self) -> tuple[str, tuple[ImagePart, ...]]:
        """``(text, images)`` for a model: the images whole (``ImagePart``), the other items as text."""
        return model_input(self.content, f"tool {self.tool}")

    def content_summary(self) -> tuple[dict[str, Any], ...]:
        """Each item by type and size (no payload): what traces record."""
        return tuple(c.summary() for c in self.content)

    def _repr_html_(self) -> str:
        import html

        head = f"<div><b>{html.escape(self.tool)}</b> ({html.escape(self.server)})" + \
            (" <b>error</b>" if self.is_error else "") + "</div>"
        return head + contents_html(self.content)


def text_of(content: tuple[MCPContent, ...]) -> str:
    return "\n".join(item.model_text() for item in content)
