"""A kaizen-lab MCP server serving the conformance suite's fixtures (tools, resources, prompts named as the
suite expects) beside one agent with a ``Literal`` input, over streamable HTTP on 127.0.0.1 without a token.

``python tests/mcp/conformance_server.py`` prints ``URL <url>`` on stdout once it is serving.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import sys
from typing import Any

from mcp import types
from mcp.server.mcpserver import Context

from kaizen_lab.agents import Agent
from kaizen_lab.mcp import AgentMCPServer
from kaizen_lab.models.testing import FunctionModel

# a 1x1 red PNG and a 4-sample silent WAV, made here rather than shipped
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc000000301"
    "0100187dd3590000000049454e44ae426082")).decode()
_SAMPLES = b"\x00\x00" * 4
WAV = base64.b64encode(b"RIFF" + struct.pack("<I", 36 + len(_SAMPLES)) + b"WAVEfmt " +
                       struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" +
                       struct.pack("<I", len(_SAMPLES)) + _SAMPLES).decode()

JSON_SCHEMA_2020 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"},
                                                            "city": {"type": "string"}}}},
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


class ConformanceServer(AgentMCPServer):
    def mcp_tools(self) -> list[Any]:
        return [*super().mcp_tools(), types.Tool(name="json_schema_2020_12_tool",
                                                 description="Tool with JSON Schema 2020-12 features",
                                                 input_schema=JSON_SCHEMA_2020)]


triage = Agent("triage", "ticket: str, priority: Literal['low', 'lower', 'high', 'urgent'] -> route: str",
               model=FunctionModel(lambda messages, info: json.dumps({"route": "desk"}), name="triage"))
server = ConformanceServer([triage], name="mcp-conformance-test-server")


def _text(text: str) -> types.TextContent:
    return types.TextContent(type="text", text=text)


async def _log(ctx: Context, text: str) -> None:
    await ctx.log("info", text, logger_name="conformance-test-server")


@server.tool(name="test_simple_text", description="Returns simple text")
def simple_text() -> list[Any]:
    return [_text("This is a simple text response for testing.")]


@server.tool(name="test_image_content", description="Returns an image")
def image_content() -> list[Any]:
    return [types.ImageContent(type="image", data=PNG, mime_type="image/png")]


@server.tool(name="test_audio_content", description="Returns audio")
def audio_content() -> list[Any]:
    return [types.AudioContent(type="audio", data=WAV, mime_type="audio/wav")]


@server.tool(name="test_embedded_resource", description="Returns an embedded resource")
def embedded_resource() -> list[Any]:
    return [types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
        uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content."))]


@server.tool(name="test_multiple_content_types", description="Returns text, image and resource")
def multiple_content_types() -> list[Any]:
    return [_text("Multiple content types test:"), types.ImageContent(type="image", data=PNG, mime_type="image/png"),
            types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
                uri="test://mixed-content-resource", mime_type="application/json",
                text='{"test":"data","value":123}'))]


@server.tool(name="test_tool_with_logging", description="Logs three messages while it runs")
async def tool_with_logging(ctx: Context) -> str:
    await _log(ctx, "Tool execution started")
    await asyncio.sleep(0.05)
    await _log(ctx, "Tool processing data")
    await asyncio.sleep(0.05)
    await _log(ctx, "Tool execution completed")
    return "Tool with logging executed successfully"


@server.tool(name="test_tool_with_progress", description="Reports progress 0, 50, 100")
async def tool_with_progress(ctx: Context) -> str:
    for step in (0, 50, 100):
        await ctx.report_progress(step, 100, f"step {step}")
        await asyncio.sleep(0.05)
    return "Tool with progress executed successfully"


@server.tool(name="test_error_handling", description="Always fails")
def error_handling() -> str:
    raise RuntimeError("This tool intentionally returns an error for testing")


@server.tool(name="test_sampling", description="Asks the client's model")
async def sampling(prompt: str, ctx: Context) -> str:
    result = await ctx.request_context.session.create_message(
        messages=[types.SamplingMessage(role="user", content=_text(prompt))], max_tokens=100,
        related_request_id=ctx.request_id)
    return f"LLM response: {getattr(result.content, 'text', '')}"


async def _elicit(ctx: Context, message: str, schema: dict[str, Any]) -> str:
    result = await ctx.request_context.session.elicit_form(message, schema, ctx.request_id)
    return f"action={result.action}, content={json.dumps(result.content)}"


@server.tool(name="test_elicitation", description="Asks the user")
async def elicitation(message: str, ctx: Context) -> str:
    schema = {"type": "object", "properties": {"response": {"type": "string", "description": "User's response"}},
              "required": ["response"]}
    return "User response: " + await _elicit(ctx, message, schema)


@server.tool(name="test_elicitation_sep1034_defaults", description="Asks with defaults for every type")
async def elicitation_defaults(ctx: Context) -> str:
    schema = {"type": "object", "properties": {
        "name": {"type": "string", "default": "John Doe"}, "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
        "verified": {"type": "boolean", "default": True}}}
    return "Elicitation completed: " + await _elicit(ctx, "Please review your information", schema)


@server.tool(name="test_elicitation_sep1330_enums", description="Asks with every enum shape")
async def elicitation_enums(ctx: Context) -> str:
    titled = [{"const": f"value{i}", "title": t} for i, t in enumerate(("First Option", "Second Option",
                                                                      "Third Option"), 1)]
    schema = {"type": "object", "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {"type": "string", "oneOf": titled},
        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                       "enumNames": ["Option One", "Option Two", "Option Three"]},
        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {"type": "array", "items": {"anyOf": [
            {"const": f"value{i}", "title": t} for i, t in enumerate(("First Choice", "Second Choice",
                                                                      "Third Choice"), 1)]}}}}
    return "Elicitation completed: " + await _elicit(ctx, "Choose options", schema)


@server.resource("test://static-text", name="Static Text Resource", description="A static text resource for testing",
                 mime_type="text/plain")
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource("test://static-binary", name="Static Binary Resource",
                 description="A static binary resource (image) for testing", mime_type="image/png")
def static_binary() -> bytes:
    return base64.b64decode(PNG)


@server.resource("test://template/{id}/data", name="Resource Template",
                 description="A resource template with parameter substitution", mime_type="application/json")
def template(id: str) -> str:  # noqa: A002 - the suite names the parameter
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@server.resource("test://watched-resource", name="Watched Resource", description="A resource that can be subscribed to",
                 mime_type="text/plain")
def watched() -> str:
    return "Watched resource content"


@server.prompt(name="test_simple_prompt", description="A simple prompt")
def simple_prompt() -> str:
    return "This is a simple prompt for testing."


@server.prompt(name="test_prompt_with_arguments", description="A prompt with required arguments")
def prompt_with_arguments(arg1: str, arg2: str) -> str:
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt(name="test_prompt_with_embedded_resource", description="A prompt with an embedded resource")
def prompt_with_embedded_resource(resourceUri: str) -> list[Any]:  # noqa: N803 - the suite names it
    from mcp.server.mcpserver.prompts.base import UserMessage

    return [UserMessage(content=types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
        uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."))),
            UserMessage(content="Please process the embedded resource above.")]


@server.prompt(name="test_prompt_with_image", description="A prompt with an image")
def prompt_with_image() -> list[Any]:
    from mcp.server.mcpserver.prompts.base import UserMessage

    return [UserMessage(content=types.ImageContent(type="image", data=PNG, mime_type="image/png")),
            UserMessage(content="Please analyze the image above.")]


@server.completer
def complete_fixture_arguments(ref: Any, argument: str, value: str, context: Any) -> list[str] | None:
    if getattr(ref, "name", None) == "test_prompt_with_arguments":
        return ["paris", "park", "party", "london"]
    if str(getattr(ref, "uri", "")) == "test://template/{id}/data" and argument == "id":
        return ["1", "12", "123"]
    return None


def main() -> int:
    handle = server.serve("http", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0, auth=False)
    print(f"URL {handle.url}", flush=True)
    handle.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
