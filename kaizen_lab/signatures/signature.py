"""``Signature``: the typed contract of an agent (inputs -> outputs, instructions, demos).

Immutable, hashable and compared by content. Values are validated and coerced with pydantic models built once
per signature. Compilation to a Kailash workflow lives in ``kaizen_lab.runtime`` and is imported on use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kaizen_lab.errors import SignatureError, UserError, did_you_mean
from kaizen_lab.signatures.fields import MISSING, FieldSpec, _FieldMarker, type_repr

if TYPE_CHECKING:
    from kailash.workflow.builder import WorkflowBuilder

__all__ = ["Signature"]

Demo = Mapping[str, Any]


class Signature:
    """The typed contract of an agent.

    Build one from text (``Signature.parse("question: str -> answer: str")`` or ``Signature("...")``), from a
    function (``Signature.from_function``), or as a class::

        class QA(Signature):
            \"\"\"Answer questions with short factual answers.\"\"\"
            question: str = InputField(desc="the user's question")
            answer: str = OutputField(desc="one sentence")
    """

    __slots__ = ("_inputs", "_outputs", "_instructions", "_demos", "_name", "_cache", "_lock")
    _class_fields: tuple[tuple[FieldSpec, ...], tuple[FieldSpec, ...], str] | None = None

    def __init__(self, spec: str | None = None, *, inputs: Iterable[FieldSpec] = (),
                 outputs: Iterable[FieldSpec] = (), instructions: str | None = None,
                 demos: Sequence[Demo] = (), name: str | None = None,
                 namespace: Mapping[str, Any] | None = None) -> None:
        ins, outs = tuple(inputs), tuple(outputs)
        parsed_instructions = ""
        if spec is not None:
            from kaizen_lab.signatures.grammar import parse_signature_text

            parsed = parse_signature_text(spec, namespace)
            ins, outs, parsed_instructions = parsed.inputs, parsed.outputs, parsed.instructions
        elif not ins and not outs and type(self)._class_fields is not None:
            ins, outs, parsed_instructions = type(self)._class_fields
        if not outs:
            raise SignatureError("a signature needs at least one output field")
        self._inputs = tuple(_with_role(f, "input") for f in ins)
        self._outputs = tuple(_with_role(f, "output") for f in outs)
        self._instructions = parsed_instructions if instructions is None else instructions
        self._demos = tuple(dict(d) for d in demos)
        self._name = name or (type(self).__name__ if type(self) is not Signature else None)
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

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
        import typing

        hints = typing.get_type_hints(cls) if annotations else {}
        for name in annotations:
            marker = cls.__dict__.get(name, MISSING)
            if not isinstance(marker, _FieldMarker):
                raise SignatureError(f"{cls.__name__}.{name}: mark it with InputField(...) or OutputField(...)")
            tp = hints.get(name, str)
            spec = FieldSpec(name, tp, type_repr(tp), marker.desc, marker.default, marker.role,
                             tuple(sorted(marker.constraints.items())))
            (inherited_in if marker.role == "input" else inherited_out)[name] = spec
            inherited_in.pop(name, None) if marker.role == "output" else inherited_out.pop(name, None)
        doc = (cls.__doc__ or "").strip()
        if not doc:
            parent = next((b for b in cls.__mro__[1:] if b._class_fields is not None), None)
            doc = parent._class_fields[2] if parent and parent._class_fields else ""
        cls._class_fields = (tuple(inherited_in.values()), tuple(inherited_out.values()), doc)
        # class attributes holding markers would shadow the slots-free API; drop them
        for name in annotations:
            if name in cls.__dict__:
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

    def input_schema(self) -> dict[str, Any]:
        """The inputs as a JSON Schema object."""
        return _schema(self._model("input"), self._inputs)

    def output_schema(self) -> dict[str, Any]:
        """The outputs as a JSON Schema object (offered to models that support structured output)."""
        schema = self._cache.get("output_schema")
        if schema is None:
            schema = self._cache["output_schema"] = _schema(self._model("output"), self._outputs)
        return schema

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
            obj = model.model_validate(dict(values))
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            reason = f"{where}: {first['msg']} (got {first.get('input')!r})"
            if role == "input":
                raise UserError(f"invalid input {reason}") from None
            from kaizen_lab.errors import OutputParseError

            raise OutputParseError(reason, expected=self.output_names, parsed=dict(values)) from None
        return {name: getattr(obj, name) for name in type(obj).model_fields}

    # -- compilation ------------------------------------------------------------------------------------
    def compile_to_workflow(self, model: Any = "test", **agent_config: Any) -> WorkflowBuilder:
        """A Kailash ``WorkflowBuilder``: validate inputs → model → validate outputs."""
        from kaizen_lab.runtime.compiler import compile_signature

        return compile_signature(self, model=model, **agent_config)

    def to_node(self, node_id: str = "signature", model: Any = "test") -> Any:
        """One registered Kailash node running the whole signature (for ``add_node_instance``)."""
        from kaizen_lab.runtime.nodes import signature_node

        return signature_node(self, node_id=node_id, model=model)

    # -- serialisation ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"signature": self.to_text(), "instructions": self._instructions, "demos": list(self._demos),
                "name": self._name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], namespace: Mapping[str, Any] | None = None) -> Signature:
        sig = cls.parse(data["signature"], namespace, instructions=data.get("instructions") or "")
        return Signature(inputs=sig.input_fields, outputs=sig.output_fields, instructions=sig.instructions,
                         demos=data.get("demos") or (), name=data.get("name"))

    def to_text(self) -> str:
        """The multi-line form when any field has a description or there are instructions, else one line."""
        if not self._instructions and not any(f.description for f in (*self._inputs, *self._outputs)):
            return f"{_side(self._inputs)} -> {_side(self._outputs)}"
        lines = []
        if self._instructions:
            lines.append(f'"""{self._instructions}"""')
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
        if hasattr(self, "_lock"):
            raise AttributeError("Signature is immutable; use with_instructions()/with_demos()")
        object.__setattr__(self, name, value)

    def __str__(self) -> str:
        return f"{_side(self._inputs)} -> {_side(self._outputs)}"

    def __repr__(self) -> str:
        return f"Signature({str(self)!r})"


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
    return _field_text(f) + (f"  # {f.description}" if f.description else "")


def _build_model(fields: Sequence[FieldSpec], name: str) -> Any:
    import pydantic

    definitions: dict[str, Any] = {}
    for f in fields:
        kwargs: dict[str, Any] = dict(f.constraints)
        if f.description:
            kwargs["description"] = f.description
        default = ... if f.default is MISSING else f.default
        definitions[f.name] = (f.annotation, pydantic.Field(default, **kwargs))
    return pydantic.create_model(name, __config__=pydantic.ConfigDict(extra="ignore",
                                                                    arbitrary_types_allowed=True),
                                 **definitions)


def _schema(model: Any, fields: Sequence[FieldSpec]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.setdefault("required", [f.name for f in fields if f.required])
    schema["additionalProperties"] = False
    return schema
