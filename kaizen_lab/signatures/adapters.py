"""Adapters turn a signature and inputs into messages, and a model's text back into typed outputs (pure).

``JSONAdapter`` asks for one JSON object (and offers the output JSON Schema to models that support structured
output); it accepts the object bare, fenced or embedded in prose. ``FieldMarkerAdapter`` uses
``[[ ## field ## ]]`` markers, for models that write prose better than JSON. Each adapter also writes the
message that asks the model again after an unusable answer (``retry_prompt``), in its own answer format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kaizen_lab.errors import OutputParseError
from kaizen_lab.messages import Message
from kaizen_lab.signatures.signature import Signature

__all__ = ["Adapter", "FieldMarkerAdapter", "JSONAdapter", "get_adapter", "retry_prompt", "value_text"]

DEFAULT_INSTRUCTIONS = "Given the input fields, produce the output fields."


class Adapter(Protocol):
    name: str

    def format(self, signature: Signature, inputs: Mapping[str, Any], demos: Sequence[Mapping[str, Any]] = (),
               history: Sequence[Message] = ()) -> list[Message]: ...

    def parse(self, signature: Signature, text: str) -> dict[str, Any]: ...

    # optional: ``user_prompt(signature, inputs) -> str``, the user's turn as remembered in a session;
    # ``retry_prompt(signature, reason) -> str``, the request to answer again after an unusable answer


def retry_prompt(adapter: Adapter, signature: Signature, reason: str) -> str:
    """The user message asking the model again after an answer ``adapter`` could not parse (``reason``): the
    adapter's own ``retry_prompt`` when it has one, else a request to keep the format the prompt asked for."""
    own = getattr(adapter, "retry_prompt", None)
    if callable(own):
        return str(own(signature, reason))
    return f"That answer could not be used: {reason}. Answer again in the format asked for above."


def value_text(value: Any) -> str:
    """A value as the text a model reads (strings as they are, everything else as JSON)."""
    if isinstance(value, str):
        return value
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except TypeError:
        return str(value)


def _describe(fields: Sequence[Any]) -> str:
    return "\n".join(f"- {f.name} ({f.type_text})" + (f": {f.description}" if f.description else "")
                     for f in fields)


class JSONAdapter:
    """Ask for a JSON object with the output fields; parse it leniently, validate it strictly."""

    name = "json"

    def system_prompt(self, signature: Signature) -> str:
        parts = [signature.instructions or DEFAULT_INSTRUCTIONS]
        if signature.input_fields:
            parts.append("Input fields:\n" + _describe(signature.input_fields))
        parts.append("Output fields:\n" + _describe(signature.output_fields))
        parts.append(self.answer_format(signature))
        return "\n\n".join(parts)

    def answer_format(self, signature: Signature) -> str:
        """How the answer must be written (the system prompt's last part, repeated when asking again)."""
        keys = ", ".join(f'"{n}"' for n in signature.output_names)
        return f"Answer with one JSON object with the keys {keys} and nothing else."

    def retry_prompt(self, signature: Signature, reason: str) -> str:
        """The request to answer again after an answer that could not be used (``reason``)."""
        return f"That answer could not be used: {reason}. {self.answer_format(signature)}"

    def user_prompt(self, signature: Signature, inputs: Mapping[str, Any]) -> str:
        if len(signature.input_fields) == 1 and signature.input_fields[0].name in inputs:
            only = signature.input_fields[0].name
            return f"{only}: {value_text(inputs[only])}"
        return "\n".join(f"{name}: {value_text(inputs[name])}" for name in signature.input_names if name in inputs)

    def assistant_text(self, signature: Signature, outputs: Mapping[str, Any]) -> str:
        return json.dumps({k: json.loads(value_text(v)) if not isinstance(v, str) else v
                           for k, v in outputs.items() if k in signature.output_names}, ensure_ascii=False)

    def format(self, signature: Signature, inputs: Mapping[str, Any], demos: Sequence[Mapping[str, Any]] = (),
               history: Sequence[Message] = ()) -> list[Message]:
        system = signature.memo(f"system_prompt:{self.name}", lambda: self.system_prompt(signature))
        messages = [Message("system", system)]
        for demo in demos:
            messages.append(Message("user", self.user_prompt(signature, demo)))
            messages.append(Message("assistant", self.assistant_text(signature, demo)))
        messages.extend(history)
        messages.append(Message("user", self.user_prompt(signature, inputs)))
        return messages

    def parse(self, signature: Signature, text: str) -> dict[str, Any]:
        """The typed outputs found in ``text``; raises ``OutputParseError`` (raw, expected, parsed, reason)."""
        _check_text(signature, text)
        data = _find_json_object(text, signature.output_names)
        if data is None:
            if len(signature.output_fields) == 1 and signature.output_fields[0].annotation is str and text.strip():
                data = {signature.output_names[0]: text.strip()}
            else:
                raise OutputParseError("no JSON object found", raw_output=text, expected=signature.output_names)
        return _check_and_validate(signature, data, text)


class FieldMarkerAdapter(JSONAdapter):
    """``[[ ## name ## ]]`` sections, one per output field."""

    name = "field_marker"
    _MARKER = re.compile(r"\[\[\s*##\s*(\w+)\s*##\s*\]\]")

    def answer_format(self, signature: Signature) -> str:
        layout = "\n".join(f"[[ ## {n} ## ]]\n<{n}>" for n in signature.output_names)
        return f"Answer in exactly this layout:\n{layout}\n[[ ## completed ## ]]"

    def assistant_text(self, signature: Signature, outputs: Mapping[str, Any]) -> str:
        body = "\n".join(f"[[ ## {k} ## ]]\n{value_text(outputs[k])}" for k in signature.output_names if k in outputs)
        return body + "\n[[ ## completed ## ]]"

    def parse(self, signature: Signature, text: str) -> dict[str, Any]:
        """The typed outputs in the ``[[ ## name ## ]]`` sections of ``text``."""
        _check_text(signature, text)
        sections: dict[str, str] = {}
        marks = list(self._MARKER.finditer(text))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            if m.group(1) != "completed":
                sections[m.group(1)] = text[m.end():end].strip()
        if not sections:
            raise OutputParseError("no [[ ## field ## ]] markers found", raw_output=text,
                                   expected=signature.output_names)
        data: dict[str, Any] = {}
        for name, raw in sections.items():
            field = signature.fields.get(name)
            if field is not None and field.annotation is not str:
                try:
                    data[name] = _loads(raw)
                    continue
                except ValueError:
                    pass
            data[name] = raw
        return _check_and_validate(signature, data, text)


def _check_text(signature: Signature, text: Any) -> None:
    if not isinstance(text, str):
        raise OutputParseError(f"expected the model's text, got {type(text).__name__}", raw_output=repr(text),
                               expected=signature.output_names)


def _check_and_validate(signature: Signature, data: Any, text: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise OutputParseError(f"expected a JSON object, got {type(data).__name__}", raw_output=text,
                               expected=signature.output_names)
    missing = [f.name for f in signature.output_fields if f.required and f.name not in data]
    if missing:
        raise OutputParseError(f"missing output field(s) {missing}", raw_output=text,
                               expected=signature.output_names, parsed=data)
    try:
        return signature.validate_outputs(data)
    except OutputParseError as exc:
        raise OutputParseError(exc.reason, raw_output=text, expected=signature.output_names, parsed=data) from None


#: at most this many places in one answer are tried as the start of a JSON object (keeps parsing linear)
_MAX_ATTEMPTS = 32
_OBJECT_START = re.compile(r'\{\s*["}]')


def _loads(text: str) -> Any:
    """``json.loads`` where a nesting too deep for Python counts as not JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _fenced_blocks(text: str) -> list[str]:
    """The bodies of ```-fenced blocks, found with ``str.find`` (a lazy regex is quadratic on unclosed fences)."""
    blocks: list[str] = []
    at = text.find("```")
    while at >= 0 and len(blocks) < _MAX_ATTEMPTS:
        close = text.find("```", at + 3)
        if close < 0:
            break
        body = text[at + 3:close]
        if body[:4].lower() == "json":
            body = body[4:]
        blocks.append(body.strip())
        at = text.find("```", close + 3)
    return blocks


def _find_json_object(text: str, expected: Sequence[str] = ()) -> Any:
    """The answer's JSON object: the whole text, a fenced block, or the first object embedded in prose that
    holds an expected key (else the first object found).

    Linear in the length of ``text``: the whole text and each fenced block are decoded once, and at most
    ``_MAX_ATTEMPTS`` places that look like an object start (``{"`` or ``{}``) are tried in prose; a failed
    attempt costs one pass, so a malformed answer (200,000 ``{``) is rejected in milliseconds.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            return _loads(stripped)
        except ValueError:
            pass
    for block in _fenced_blocks(text)[:_MAX_ATTEMPTS]:
        if block.startswith("{"):
            try:
                return _loads(block)
            except ValueError:
                continue
    decoder = json.JSONDecoder()
    first = None
    position = 0
    for _ in range(_MAX_ATTEMPTS):
        match = _OBJECT_START.search(text, position)
        if match is None:
            break
        index = match.start()
        try:
            value, end = decoder.raw_decode(text, index)
        except (ValueError, RecursionError):
            position = index + 1
            continue
        if isinstance(value, dict):
            if not expected or any(key in value for key in expected):
                return value
            first = value if first is None else first
        position = end
    return first


_ADAPTERS: dict[str, Adapter] = {"json": JSONAdapter(), "field_marker": FieldMarkerAdapter()}


def get_adapter(name: str | Adapter | None) -> Adapter:
    """``"json"`` (default) or ``"field_marker"``, or an adapter object."""
    if name is None:
        return _ADAPTERS["json"]
    if not isinstance(name, str):
        return name
    try:
        return _ADAPTERS[name]
    except KeyError:
        from kaizen_lab.errors import UserError, did_you_mean

        raise UserError(f"unknown adapter {name!r}{did_you_mean(name, _ADAPTERS)}; "
                        f"choose one of {sorted(_ADAPTERS)}") from None
