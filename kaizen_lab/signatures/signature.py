"""``Signature``: the typed contract of an agent (inputs -> outputs, instructions, demos).

Immutable, hashable and compared by content. Values are validated and coerced with pydantic models built once
per signature. A signature builds no agents: compilation to a Kailash workflow (``compile_to_workflow``,
``to_node``) and prompt optimization are doors (``kaizen_lab._doors.SignatureDoors``) to the runtime and the
optimizer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kaizen_lab._doors import SignatureDoors
from kaizen_lab.errors import SignatureError, UserError, did_you_mean
from kaizen_lab.signatures.fields import MISSING, FieldSpec, _FieldMarker, is_confidence, type_repr
from kaizen_lab.signatures.grammar import clean_instructions, parse_signature_text

__all__ = ["Signature"]

Demo = Mapping[str, Any]


class Signature(SignatureDoors):
    """The typed contract of an agent.

    Build one from text (``Signature.parse("question: str -> answer: str")`` or ``Signature("...")``), from a
    function (``Signature.from_function``), or as a class::

        class QA(Signature):
            \"\"\"Answer questions with short factual answers.\"\"\"
            question: str = InputField(desc="the user's question")
            answer: str = OutputField(desc="one sentence")

    Args:
        spec: the signature text, one-line (``"question: str, k: int = 3 -> answer: str"``) or multi-line
            (docstring, one field per line with ``# description``, a line holding only ``->``).
        namespace: where user types named in ``spec`` are looked up (a notebook's ``globals()``); nothing
            is imported and no caller frame is inspected.
        inputs: ``FieldSpec`` records, when building one without text.
        outputs: ``FieldSpec`` records (at least one).
        instructions: replaces the docstring's instructions (normalised like a docstring).
        demos: example input/output dicts shown to the model.
        name: a label (class-based signatures use the class name).

    Raises:
        SignatureError: the text does not parse (the message points at the column) or the fields clash.
    """

    __slots__ = ("_inputs", "_outputs", "_instructions", "_demos", "_name", "_cache", "_lock")
    _inputs: tuple[FieldSpec, ...]
    _outputs: tuple[FieldSpec, ...]
    _instructions: str
    _demos: tuple[dict[str, Any], ...]
    _name: str | None
    _cache: dict[str, Any]
    _lock: threading.Lock
    _class_fields: tuple[tuple[FieldSpec, ...], tuple[FieldSpec, ...], str] | None = None

    def __init__(self, spec: str | None = None, namespace: Mapping[str, Any] | None = None, *,
                 inputs: Iterable[FieldSpec] = (), outputs: Iterable[FieldSpec] = (),
                 instructions: str | None = None, demos: Sequence[Demo] = (), name: str | None = None) -> None:
        parsed_instructions = ""
        if spec is not None:
            if inputs or outputs:
                raise SignatureError("give either the signature text or inputs=/outputs=, not both")
            parsed = parse_signature_text(spec, namespace)
            ins, outs, parsed_instructions = parsed.inputs, parsed.outputs, parsed.instructions
        else:
            ins, outs = tuple(inputs), tuple(outputs)
            class_fields = type(self)._class_fields
            if not ins and not outs and class_fields is not None:
                ins, outs, parsed_instructions = class_fields
            _check_fields(ins, outs)
            ins = tuple(_with_role(f, "input") for f in ins)
            outs = tuple(_with_role(f, "output") for f in outs)
        if instructions is None:
            instructions = parsed_instructions
        elif not isinstance(instructions, str):
            raise UserError(f"instructions must be a string, got {type(instructions).__name__}")
        else:
            instructions = clean_instructions(instructions)
        # object.__setattr__: this class refuses attribute assignment once built (it is immutable)
        _set = object.__setattr__
        _set(self, "_inputs", ins)
        _set(self, "_outputs", outs)
        _set(self, "_instructions", instructions)
        _set(self, "_demos", tuple(dict(d) for d in demos) if demos else ())
        _set(self, "_name", name or (type(self).__name__ if type(self) is not Signature else None))
        _set(self, "_cache", {})
        _set(self, "_lock", threading.Lock())
        _check_confidence(outs)

    # -- class-based signatures -------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        inherited_in: dict[str, FieldSpec] = {}
        inherited_out: dict[str, FieldSpec] = {}
        for base in reversed(cls.__mro__[1:]):
            fields = getattr(base, "_class_fields", None)
            if fields:
                inherited_in.update({f.name: f for f in fields[0]})
                inherited_out.update({f.name: f for f in fields[1]})
        annotations = cls.__dict__.get("__annotations__", {})
        hints = _class_hints(cls) if annotations else {}
        for name in annotations:
            if not isinstance(cls.__dict__.get(name, MISSING), _FieldMarker) and not name.startswith("_"):
                raise SignatureError(f"{cls.__name__}.{name}: give it a value, "
                                     f"'{name}: ... = InputField(...)' or '= OutputField(...)'")
        markers = [(name, value) for name, value in cls.__dict__.items() if isinstance(value, _FieldMarker)]
        for name, marker in markers:
            if name.startswith("_"):
                raise SignatureError(f"{cls.__name__}.{name}: field names cannot start with '_'")
            tp = hints.get(name, str)
            spec = FieldSpec(name, tp, type_repr(tp), marker.desc, marker.default, marker.role,
                             tuple(sorted(marker.constraints.items())))
            own, other = (inherited_in, inherited_out) if marker.role == "input" else (inherited_out, inherited_in)
            other.pop(name, None)  # a subclass may move a field to the other side
            own[name] = spec
        doc = clean_instructions(cls.__doc__ or "")
        if not doc:
            parent_fields = next((f for f in (getattr(b, "_class_fields", None) for b in cls.__mro__[1:])
                                  if f is not None), None)
            doc = parent_fields[2] if parent_fields else ""
        cls._class_fields = (tuple(inherited_in.values()), tuple(inherited_out.values()), doc)
        # class attributes holding markers would shadow the signature's API; the fields live in _class_fields
        for name, _ in markers:
            delattr(cls, name)

    # -- constructors -----------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, namespace: Mapping[str, Any] | None = None, *,
              instructions: str | None = None) -> Signature:
        """Parse the one-line or multi-line form; types resolve from ``namespace`` plus the built-ins."""
        return cls(text, namespace=namespace, instructions=instructions)

    @classmethod
    def coerce(cls, value: Signature | str | type | None, namespace: Mapping[str, Any] | None = None) -> Signature:
        """Accept a Signature, a signature class, a string or a function and return a Signature."""
        if isinstance(value, Signature):
            return value
        if isinstance(value, type) and issubclass(value, Signature):
            return value()
        if isinstance(value, str):
            return cls.parse(value, namespace)
        if callable(value):
            return cls.from_function(value)
        raise UserError(f"expected a signature string, Signature or function, got {type(value).__name__}; "
                        "e.g. 'question: str -> answer: str'")

    @classmethod
    def from_function(cls, fn: Any) -> Signature:
        """Inputs from the parameters, outputs from the return annotation, instructions from the docstring."""
        from kaizen_lab.signatures._introspect import signature_from_function

        return signature_from_function(cls, fn)

    # -- accessors --------------------------------------------------------------------------------------
    @property
    def input_fields(self) -> tuple[FieldSpec, ...]:
        return self._inputs

    @property
    def output_fields(self) -> tuple[FieldSpec, ...]:
        return self._outputs

    @property
    def fields(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in (*self._inputs, *self._outputs)}

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self._inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self._outputs)

    @property
    def confidence_outputs(self) -> dict[str, str]:
        """Outputs typed ``Confidence``, each mapped to the output it measures (the first output that is not a
        ``Confidence``); empty when the signature has none."""
        marked = [f.name for f in self._outputs if is_confidence(f.annotation)]
        if not marked:
            return {}
        answer = next(f.name for f in self._outputs if not is_confidence(f.annotation))
        return dict.fromkeys(marked, answer)

    def generated(self) -> Signature:
        """The signature the model is asked to fill: this one without its ``Confidence`` outputs (those are
        computed from the answer's token probabilities, never generated). ``self`` when there are none."""
        marked = self.confidence_outputs
        if not marked:
            return self

        def build() -> Signature:
            demos = tuple({k: v for k, v in d.items() if k not in marked} for d in self._demos)
            return Signature(inputs=self._inputs, outputs=[f for f in self._outputs if f.name not in marked],
                             instructions=self._instructions, demos=demos, name=self._name)

        return self.memo("generated", build)  # type: ignore[no-any-return]

    @property
    def instructions(self) -> str:
        return self._instructions

    @property
    def demos(self) -> tuple[dict[str, Any], ...]:
        return self._demos

    @property
    def name(self) -> str | None:
        return self._name

    def with_instructions(self, instructions: str) -> Signature:
        return Signature(inputs=self._inputs, outputs=self._outputs, instructions=instructions,
                         demos=self._demos, name=self._name)

    def with_demos(self, demos: Sequence[Demo]) -> Signature:
        for i, demo in enumerate(demos):
            unknown = set(demo) - set(self.fields)
            if unknown:
                name = sorted(unknown)[0]
                raise UserError(f"demo {i} has unknown field {name!r}{did_you_mean(name, self.fields)}")
        return Signature(inputs=self._inputs, outputs=self._outputs, instructions=self._instructions,
                         demos=demos, name=self._name)

    # -- prompts (the roadmap's spellings; ``optimize_prompt`` is a door in kaizen_lab._doors) ------------
    def generate_prompt(self, adapter: Any = "json") -> str:
        """The prompt the model is given for this signature: the adapter's system message (instructions, fields,
        answer format), then each demo as the user/assistant exchange the adapter sends."""
        from kaizen_lab.signatures.adapters import get_adapter

        messages = get_adapter(adapter).format(self, {}, self._demos)[:-1]  # the last is the (empty) question
        return "\n\n".join(m.content if m.role == "system" else f"[{m.role}]\n{m.content}" for m in messages)

    def with_optimized_prompt(self, prompt: Any) -> Signature:
        """A copy with an optimized prompt: a string replaces the instructions; the result of
        ``PromptOptimizer().optimize_signature_prompt`` brings its instructions and demos."""
        if isinstance(prompt, str):
            return self.with_instructions(prompt)
        best = getattr(prompt, "signature", None)
        if not isinstance(best, Signature) or best.input_names != self.input_names \
                or best.output_names != self.output_names:
            raise UserError("with_optimized_prompt takes instructions text or the result of "
                            "PromptOptimizer().optimize_signature_prompt(signature, data) for this signature")
        return self.with_instructions(best.instructions).with_demos(best.demos)

    # -- schemas and validation -------------------------------------------------------------------------
    def _model(self, role: str) -> Any:
        key = f"model_{role}"
        model = self._cache.get(key)
        if model is None:
            with self._lock:
                model = self._cache.get(key)
                if model is None:
                    model = _build_model(self._inputs if role == "input" else self._outputs,
                                         f"{self._name or 'Signature'}{role.title()}s")
                    self._cache[key] = model
        return model

    def memo(self, key: str, build: Any) -> Any:
        """Per-signature cache for derived data (prompts, schemas): signatures are immutable."""
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = build()
        return value

    @property
    def input_schema(self) -> SchemaDict:
        """The inputs as a JSON Schema object; ``sig.input_schema()`` and ``sig.input_schema`` (the roadmap's
        attribute spelling) give the same dict."""
        return SchemaDict(self.memo("input_schema", lambda: _schema(self._model("input"), self._inputs)))

    @property
    def output_schema(self) -> SchemaDict:
        """The outputs as a JSON Schema object (offered to models that support structured output); callable
        like ``input_schema``."""
        return SchemaDict(self.memo("output_schema", lambda: _schema(self._model("output"), self._outputs)))

    def validate_inputs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check names strictly and coerce values to the input types; raise ``UserError`` naming the fix."""
        names = self.input_names
        for key in values:
            if key not in names:
                raise UserError(f"unknown input {key!r}{did_you_mean(key, names)}; this signature takes "
                                f"{list(names) or 'no inputs'}")
        missing = [f.name for f in self._inputs if f.required and f.name not in values]
        if missing:
            raise UserError(f"missing input {missing[0]!r}; this signature takes {list(names)}")
        return self._validate("input", values)

    def validate_outputs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Coerce model outputs to the output types; raise ``OutputParseError`` with the reason."""
        return self._validate("output", values)

    def _validate(self, role: str, values: Mapping[str, Any]) -> dict[str, Any]:
        import pydantic

        model = self._model(role)
        try:
            obj = model.model_validate(values)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            reason = f"{where}: {first['msg']} (got {first.get('input')!r})"
            if role == "input":
                raise UserError(f"invalid input {reason}") from None
            from kaizen_lab.errors import OutputParseError

            raise OutputParseError(reason, expected=self.output_names, parsed=dict(values)) from None
        # the model's attributes are f0, f1, ... (aliases carry the names) in field order
        return dict(zip(self.input_names if role == "input" else self.output_names, obj.__dict__.values(),
                        strict=True))

    # -- serialisation ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``from_dict`` reverses it; user types need the same namespace)."""
        return {"signature": self.to_text(), "instructions": self._instructions, "demos": list(self._demos),
                "name": self._name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], namespace: Mapping[str, Any] | None = None) -> Signature:
        """Rebuild a signature written by ``to_dict``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("signature"), str):
            raise SignatureError("from_dict needs a mapping with a 'signature' string (as written by to_dict())")
        sig = cls.parse(data["signature"], namespace, instructions=data.get("instructions") or "")
        return Signature(inputs=sig.input_fields, outputs=sig.output_fields, instructions=sig.instructions,
                         demos=data.get("demos") or (), name=data.get("name"))

    def to_text(self) -> str:
        """The text ``parse`` turns back into an equal signature (demos aside).

        One line when there are no descriptions and no instructions, else the multi-line form. Descriptions
        are single lines (line breaks become spaces); instructions are written as a docstring and read back
        with ``inspect.cleandoc``.
        """
        if not self._instructions and not any(f.description for f in (*self._inputs, *self._outputs)):
            return f"{_side(self._inputs)} -> {_side(self._outputs)}"
        lines = []
        if self._instructions:
            lines.append(_quote_doc(self._instructions))
        lines += [_field_line(f) for f in self._inputs] + ["->"] + [_field_line(f) for f in self._outputs]
        return "\n".join(lines)

    # -- dunder -----------------------------------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (self._inputs, self._outputs, self._instructions, repr(self._demos))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signature) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Signature is immutable; use with_instructions()/with_demos()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Signature is immutable; use with_instructions()/with_demos()")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._inputs, self._outputs, self._instructions, self._demos, self._name))

    def __copy__(self) -> Signature:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Signature:
        return self

    def __str__(self) -> str:
        return f"{_side(self._inputs)} -> {_side(self._outputs)}"

    def __repr__(self) -> str:
        return f"Signature({str(self)!r})"


class SchemaDict(dict[str, Any]):
    """A JSON Schema dict that returns itself when called, so both spellings of ``input_schema`` work."""

    def __call__(self) -> SchemaDict:
        return self


def _rebuild(cls: type[Signature], inputs: tuple[FieldSpec, ...], outputs: tuple[FieldSpec, ...],
             instructions: str, demos: tuple[dict[str, Any], ...], name: str | None) -> Signature:
    return cls(inputs=inputs, outputs=outputs, instructions=instructions, demos=demos, name=name)


def _with_role(f: FieldSpec, role: str) -> FieldSpec:
    if f.role == role:
        return f
    return FieldSpec(f.name, f.annotation, f.type_text, f.description, f.default, role,  # type: ignore[arg-type]
                     f.constraints)


def _field_text(f: FieldSpec) -> str:
    text = f"{f.name}: {f.type_text}"
    if f.default is not MISSING:
        text += f" = {f.default!r}"
    return text


def _side(fields: Sequence[FieldSpec]) -> str:
    return ", ".join(_field_text(f) for f in fields)


def _field_line(f: FieldSpec) -> str:
    description = " ".join(line.strip() for line in f.description.splitlines())
    return _field_text(f) + (f"  # {description}" if description else "")


_DOC_ESCAPES = {"\\": "\\\\", "\r": "\\r", "\t": "\\t"}


def _quote_doc(text: str) -> str:
    """A triple-quoted literal whose value is ``text`` (newlines kept, line separators and quotes escaped)."""
    out = []
    for ch in text:
        if ch in _DOC_ESCAPES:
            out.append(_DOC_ESCAPES[ch])
        elif ch == "\n" or ch == '"' or (ch.isprintable() and ch not in "\x85\u2028\u2029"):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    body = "".join(out)
    if '"""' in body or body.endswith('"'):
        body = body.replace('"', '\\"')
    return f'"""{body}"""'


def _check_fields(inputs: Sequence[FieldSpec], outputs: Sequence[FieldSpec]) -> None:
    if not outputs:
        raise SignatureError("a signature needs at least one output field, e.g. 'question -> answer'")
    seen: set[str] = set()
    for f in (*inputs, *outputs):
        if not isinstance(f, FieldSpec):
            raise SignatureError(f"expected FieldSpec objects, got {type(f).__name__}")
        if not f.name.isidentifier() or f.name.startswith("_"):
            raise SignatureError(f"{f.name!r} is not a valid field name (letters, digits and '_', "
                                 "not starting with '_')")
        if f.name in seen:
            raise SignatureError(f"duplicate field {f.name!r}; each name may appear once on either side")
        seen.add(f.name)


def _check_confidence(outputs: Sequence[FieldSpec]) -> None:
    if outputs and all(is_confidence(f.annotation) for f in outputs):
        raise SignatureError(f"the Confidence output {outputs[0].name!r} measures the answer, but this signature "
                             "has no other output: add one, e.g. 'question -> answer: str, confidence: Confidence'")


def _class_hints(cls: type) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:
        raise SignatureError(f"cannot resolve the field types of {cls.__name__} ({exc}); define the types "
                             "at module level before the class") from None


def _build_model(fields: Sequence[FieldSpec], name: str) -> Any:
    import warnings

    import pydantic

    definitions: dict[str, Any] = {}
    for i, f in enumerate(fields):
        # positional attribute names with the field name as alias: any identifier works as a field name,
        # even those that shadow BaseModel members (json, schema, copy, model_config ...)
        kwargs: dict[str, Any] = {"alias": f.name, "title": f.name.replace("_", " ").title(),
                                  **dict(f.constraints)}
        if f.description:
            kwargs["description"] = f.description
        default = ... if f.default is MISSING else f.default
        definitions[f"f{i}"] = (f.annotation, pydantic.Field(default, **kwargs))
    config = pydantic.ConfigDict(extra="ignore", arbitrary_types_allowed=True, protected_namespaces=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pydantic.create_model(name, __config__=config, **definitions)
        except Exception as exc:
            raise SignatureError(f"cannot build a validator for {name}: {exc}") from None


def _schema(model: Any, fields: Sequence[FieldSpec]) -> dict[str, Any]:
    try:
        schema = model.model_json_schema()
    except Exception as exc:  # noqa: BLE001 - pydantic raises several types for a type it cannot describe
        types = ", ".join(f"{f.name}: {f.type_text}" for f in fields)
        raise SignatureError(f"cannot describe the fields ({types}) as JSON Schema: {str(exc).splitlines()[0]}; "
                             "use str, int, float, bool, list[...], dict[...], Literal[...] or a pydantic model "
                             "as field types") from None
    schema.setdefault("required", [f.name for f in fields if f.required])
    schema["additionalProperties"] = False
    return schema
