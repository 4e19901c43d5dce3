"""Images from MCP tools reach the model as images: a real kaizen-lab MCP server (the conformance fixtures'
``test_image_content``/``test_multiple_content_types`` tools) answers an agent whose model is driven through the
official ``openai``/``anthropic`` SDKs against the local wire-format server; the request body must carry the
server's PNG. Text-only models get a placeholder line naming the image and its size."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import types
from mcp.server.mcpserver import Context

from kaizen_lab.agents import Agent
from kaizen_lab.mcp import AgentMCPServer, connect
from kaizen_lab.messages import ImagePart, Message, ToolCall
from kaizen_lab.models.anthropic import AnthropicModel
from kaizen_lab.models.base import ModelResponse, override_allow_real_requests
from kaizen_lab.models.local._chat import render_chat
from kaizen_lab.models.openai import OpenAIModel
from kaizen_lab.models.testing import FunctionModel
from tests.mcp.conformance_server import PNG
from tests.mcp.conformance_server import server as fixtures_server
from tests.models.wire_server import Reply, WireServer, anthropic_message, openai_completion

PNG_BYTES = base64.b64decode(PNG)
DATA_URL = f"data:image/png;base64,{PNG}"


@pytest.fixture(scope="module")
def mcp_handle() -> Iterator[Any]:
    with fixtures_server.serve("http", auth=False) as handle:
        yield handle


@pytest.fixture(scope="module")
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


def _agent(model: Any, handle: Any) -> Agent:
    agent = Agent("viewer", "question: str -> answer: str", model=model)
    agent.connect_to_mcp_servers({"fixtures": {"url": handle.url}})
    return agent


def test_openai_request_carries_the_tool_image_as_an_image_url_part(mcp_handle: Any, wire: WireServer) -> None:
    wire.reset()
    wire.script(Reply(body=openai_completion(None, tool_calls=[("test_image_content", {})])),
                Reply(body=openai_completion(json.dumps({"answer": "a red pixel"}))))
    model = OpenAIModel("gpt-4o-mini", base_url=wire.openai_url, api_key="sk-test", max_retries=0)
    with override_allow_real_requests(True):
        result = _agent(model, mcp_handle).execute(question="what is in the picture?")
    assert result.answer == "a red pixel"
    sent = wire.last.body["messages"]
    tool_msg = next(m for m in sent if m["role"] == "tool")
    assert tool_msg == {"role": "tool", "tool_call_id": "call_0",
                        "content": "[1 image(s) of this result follow in the next user message]"}
    # a tool message holds text only: the image follows the tool messages in one user message
    assert sent[-1] == {"role": "user", "content": [
        {"type": "text", "text": "Images returned by tool test_image_content (call call_0):"},
        {"type": "image_url", "image_url": {"url": DATA_URL}}]}


def test_anthropic_tool_result_carries_a_base64_image_block(mcp_handle: Any, wire: WireServer) -> None:
    wire.reset()
    wire.script(Reply(body=anthropic_message(None, tool_uses=[("test_multiple_content_types", {})])),
                Reply(body=anthropic_message(None, tool_uses=[("final_result", {"answer": "seen"})])))
    model = AnthropicModel("claude-haiku-4-5", base_url=wire.anthropic_url, api_key="sk-ant-test", max_retries=0)
    with override_allow_real_requests(True):
        result = _agent(model, mcp_handle).execute(question="describe the result")
    assert result.answer == "seen"
    last_turn = wire.last.body["messages"][-1]
    assert last_turn["role"] == "user"
    (block,) = last_turn["content"]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_0"
    text, image = block["content"]
    assert text["type"] == "text" and text["text"].startswith("Multiple content types test:")
    assert "test://mixed-content-resource" in text["text"]  # the embedded resource stays text
    assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}


def _viewer(seen: list[Message]) -> Any:
    """A model function that calls the image tool, then keeps the tool message it is given."""
    def reply(messages: list[Message], info: Any) -> Any:
        if messages[-1].role == "tool":
            seen.append(messages[-1])
            return json.dumps({"answer": "done"})
        return ModelResponse(tool_calls=(ToolCall("c1", "test_image_content", {}),), finish_reason="tool_calls")

    return reply


def test_a_model_that_takes_no_images_gets_a_placeholder_naming_the_image(mcp_handle: Any) -> None:
    seen: list[Message] = []
    _agent(FunctionModel(_viewer(seen), name="text-only"), mcp_handle).execute(question="show me")
    assert seen[0].images == ()
    assert seen[0].content == (f"[image image/png, {len(PNG_BYTES)} bytes from tool test_image_content, "
                               "not shown: this model does not take images]")


def test_a_model_that_takes_images_gets_the_bytes(mcp_handle: Any) -> None:
    seen: list[Message] = []
    model = FunctionModel(_viewer(seen), name="vision", supports_images=True)
    result = _agent(model, mcp_handle).execute(question="x")
    assert seen[0].images == (ImagePart(PNG_BYTES, "image/png", "tool test_image_content"),)
    called = next(e for e in result.events if e.kind == "tool_called")
    assert called.content == ({"type": "image", "size": len(PNG_BYTES), "mime_type": "image/png"},)


def test_the_local_model_prompt_names_each_image() -> None:
    message = Message("user", "What is this?", images=(ImagePart(b"\x89PNG" + b"\0" * 60, "image/png", "a.png"),))
    prompt = render_chat([message])
    assert "What is this?\n[image image/png, 64 bytes from a.png, not shown: this model does not take images]" \
        in prompt


def test_openai_text_only_server_and_unsupported_types_get_placeholders(wire: WireServer) -> None:
    wire.reset()
    svg = ImagePart(b"<svg/>", "image/svg+xml", "chart.svg")
    png = ImagePart(PNG_BYTES, "image/png", "pixel.png")
    with override_allow_real_requests(True):
        OpenAIModel("llava", base_url=wire.openai_url, api_key="k", max_retries=0).request_sync(
            [Message("user", "look", images=(png, svg))])
        assert wire.last.body["messages"] == [{"role": "user", "content": [
            {"type": "text", "text": "look\n[image image/svg+xml, 6 bytes from chart.svg, not shown: image/svg+xml "
                                     "is not one of image/gif, image/jpeg, image/png, image/webp]"},
            {"type": "image_url", "image_url": {"url": DATA_URL}}]}]
        OpenAIModel("llama3.2", base_url=wire.openai_url, api_key="k", max_retries=0,
                    supports_images=False).request_sync([Message("user", "look", images=(png,))])
    assert wire.last.body["messages"] == [{"role": "user", "content": (
        f"look\n[image image/png, {len(PNG_BYTES)} bytes from pixel.png, not shown: this model does not take "
        "images]")}]


def test_cached_requests_differ_by_image() -> None:
    from kaizen_lab.models.cache import cache_key

    one = [Message("user", "look", images=(ImagePart(b"a", "image/png"),))]
    other = [Message("user", "look", images=(ImagePart(b"b", "image/png"),))]
    assert cache_key("m", one) != cache_key("m", other) != cache_key("m", [Message("user", "look")])


def test_an_image_in_a_sampling_request_reaches_the_answering_model() -> None:
    server = AgentMCPServer([Agent("echo", "q: str -> a: str", model="test")], name="asks")

    @server.tool(name="describe_pixel", description="Asks the client's model about an image")
    async def describe_pixel(ctx: Context) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sampling as a server request belongs to the 2025 protocol
            result = await ctx.request_context.session.create_message(
                messages=[types.SamplingMessage(role="user", content=[
                    types.TextContent(type="text", text="What colour is this pixel?"),
                    types.ImageContent(type="image", data=PNG, mime_type="image/png")])],
                max_tokens=20, related_request_id=ctx.request_id)
        return getattr(result.content, "text", "")

    seen: list[Message] = []

    def answer(messages: list[Message], info: Any) -> str:
        seen.extend(messages)
        return "red"

    vision = FunctionModel(answer, name="vision", supports_images=True)
    with server.serve("http", auth=False) as handle:
        # sampling/createMessage as a server request: the 2025 handshake
        conn = connect(handle, shared=False, protocol="legacy", sampling_model=vision)
        assert conn.call_tool("describe_pixel", {}).text == "red"
        conn.close()
    (asked,) = seen
    assert asked.content == "What colour is this pixel?"
    assert asked.images == (ImagePart(PNG_BYTES, "image/png", "server asks"),)
