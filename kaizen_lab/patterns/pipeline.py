"""``PipelinePattern``: agents in sequence; each step's inputs come from earlier outputs by field name.

A step may give an explicit mapping ``{its_input: earlier_field}``. Field availability is checked before any
model call, so a missing field is a ``UserError`` naming the step, the field and what is available.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaizen_lab._aio import run_sync
from kaizen_lab.errors import UserError, did_you_mean
from kaizen_lab.patterns._common import (
    AgentFailure,
    PatternError,
    PatternRun,
    guarded_run,
    require_distinct_ids,
)

if TYPE_CHECKING:
    from kailash.workflow.builder import WorkflowBuilder

    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.agents.result import ExecutionResult

__all__ = ["PipelinePattern", "PipelineResult", "PipelineStep"]


@dataclass(frozen=True)
class PipelineStep:
    agent: Agent
    mapping: Mapping[str, str] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        return self.agent.agent_id


@dataclass(frozen=True)
class PipelineResult:
    outputs: dict[str, Any]
    steps: list[ExecutionResult]
    context: dict[str, Any]
    run_id: str
    duration_ms: float

    def __getattr__(self, name: str) -> Any:
        outputs = object.__getattribute__(self, "outputs")
        if name in outputs:
            return outputs[name]
        raise AttributeError(f"PipelineResult has no field {name!r}; the last step's fields are {list(outputs)}")


class PipelinePattern:
    """Run ``steps`` in order. Each step is an ``Agent`` or ``(Agent, {input: earlier_field})``."""

    name = "pipeline"

    def __init__(self, steps: Sequence[Agent | tuple[Agent, Mapping[str, str]] | PipelineStep], *,
                 timeout: float | None = None, deadline: float | None = None) -> None:
        if not steps:
            raise UserError("a pipeline needs at least one step")
        self.steps = [s if isinstance(s, PipelineStep) else
                      PipelineStep(s[0], dict(s[1])) if isinstance(s, tuple) else PipelineStep(s) for s in steps]
        require_distinct_ids([s.node_id for s in self.steps], "pipeline steps")
        self.timeout = timeout
        self.deadline = deadline

    @property
    def agents(self) -> list[Agent]:
        return [s.agent for s in self.steps]

    def plan(self, input_names: Sequence[str]) -> list[dict[str, tuple[str | None, str]]]:
        """For each step: ``{its_input: (source step id or None for the pipeline inputs, source field)}``."""
        available: dict[str, str | None] = {name: None for name in input_names}
        plan = []
        for index, step in enumerate(self.steps):
            wiring: dict[str, tuple[str | None, str]] = {}
            for f in step.agent.signature.input_fields:
                source = step.mapping.get(f.name, f.name)
                if source in available:
                    wiring[f.name] = (available[source], source)
                elif f.required:
                    hint = did_you_mean(source, available)
                    how = (f" (mapped from {source!r})" if source != f.name else "")
                    raise UserError(f"pipeline step {index + 1} ({step.node_id!r}) needs input {f.name!r}{how}, "
                                    f"which no earlier step or pipeline input provides{hint}; available: "
                                    f"{sorted(available)}. Map it explicitly: (agent, {{{f.name!r}: 'field'}})")
            for name in step.mapping:
                if name not in step.agent.signature.input_names:
                    raise UserError(f"pipeline step {step.node_id!r} maps unknown input {name!r}"
                                    f"{did_you_mean(name, step.agent.signature.input_names)}")
            plan.append(wiring)
            for out in step.agent.signature.output_names:
                available[out] = step.node_id
        return plan

    async def arun(self, **inputs: Any) -> PipelineResult:
        plan = self.plan(list(inputs))
        run = PatternRun(self.name, inputs, deadline=self.deadline)
        context: dict[str, Any] = dict(inputs)
        results: list[ExecutionResult] = []
        try:
            for step, wiring in zip(self.steps, plan, strict=True):
                run.check_deadline({"steps": results, "context": context})
                step_inputs = {target: context[source] for target, (_, source) in wiring.items()}
                outcome = await guarded_run(step.agent, step_inputs, run, timeout=self.timeout)
                if isinstance(outcome, AgentFailure):
                    raise PatternError(f"pipeline step {step.node_id!r} failed: {outcome.message}",
                                       partial={"steps": results, "context": context, "failure": outcome})
                results.append(outcome)
                context.update(outcome.data)
        except Exception as exc:
            run.finish({}, exc)
            raise
        outputs = results[-1].data
        ms = run.finish(outputs)
        return PipelineResult(outputs, results, context, run.run_id, ms)

    def run(self, **inputs: Any) -> PipelineResult:
        return run_sync(self.arun(**inputs))

    def to_workflow(self, input_names: Sequence[str] | None = None) -> WorkflowBuilder:
        """A Kailash workflow: an ``inputs`` node, then one agent node per step, wired field by field."""
        from kailash.workflow.builder import WorkflowBuilder

        import kaizen_lab.patterns.nodes  # noqa: F401 - registers the pattern nodes
        from kaizen_lab.runtime.nodes import agent_config

        names = list(input_names) if input_names is not None else [
            f.name for f in self.steps[0].agent.signature.input_fields]
        plan = self.plan(names)
        builder = WorkflowBuilder()
        builder.add_node("KaizenValuesNode", "inputs", {})
        for step, wiring in zip(self.steps, plan, strict=True):
            builder.add_node("KaizenAgentNode", step.node_id, agent_config(step.agent))
            for target, (source_step, source_field) in wiring.items():
                if source_step is None:
                    builder.add_connection("inputs", f"values.{source_field}", step.node_id, target)
                else:
                    builder.add_connection(source_step, source_field, step.node_id, target)
        return builder

    def run_workflow(self, **inputs: Any) -> PipelineResult:
        """Run the compiled workflow on LocalRuntime; the result matches ``run``."""
        import time

        from kaizen_lab.agents.result import ExecutionResult, RunMetadata
        from kaizen_lab.runtime.compiler import agent_workflow_key, cached_workflow
        from kaizen_lab.runtime.execute import run_workflow

        t0 = time.perf_counter()
        names = list(inputs)
        # compiled once per input names and steps; rebuilt when a step, its agent's config or a mapping changes
        key = (tuple(names), tuple((s.agent, agent_workflow_key(s.agent), tuple(s.mapping.items()))
                                   for s in self.steps))
        wf = cached_workflow(self, key, lambda: self.to_workflow(names).build())
        run = run_workflow(wf, parameters={"inputs": {"values": dict(inputs)}})
        results = []
        context = dict(inputs)
        for step in self.steps:
            data = {k: v for k, v in run.results[step.node_id].items() if k != "kaizen"}
            meta = run.results[step.node_id]["kaizen"]
            results.append(ExecutionResult(data, RunMetadata(**{k: meta[k] for k in RunMetadata.__slots__}), []))
            context.update(data)
        return PipelineResult(results[-1].data, results, context, run.run_id, (time.perf_counter() - t0) * 1000)
