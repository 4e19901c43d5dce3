"""The auto-optimization engine: find bottlenecks in run data, plan optimizations, apply them, measure.

``optimize_framework(performance_data)`` reads run records (``ExecutionResult``s, trace records or dicts with
agent_id/inputs/model_calls/duration_ms/cost) and proposes an ``OptimizationPlan``. ``apply_optimizations``
replays a workload before and after each step and returns measured figures; an optimization that fails is
recorded with its error and the others still run.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kaizen_lab._aio import run_sync
from kaizen_lab.errors import KaizenError, UserError
from kaizen_lab.optimize.evaluate import Metric, aevaluate

if TYPE_CHECKING:
    from kaizen_lab.agents.agent import Agent

__all__ = [
    "AutoOptimizationEngine", "CachingOptimizer", "Measurement", "ModelSelectionOptimizer", "Optimization",
    "OptimizationPlan", "OptimizationResults", "PromptOptimizerStep", "ResourceOptimizer",
]


@dataclass(frozen=True)
class Measurement:
    """A replayed workload: model calls, wall time, mean latency, cost, errors."""

    runs: int
    model_calls: int
    wall_ms: float
    mean_latency_ms: float
    cost: float | None
    errors: int
    quality: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class Optimization(Protocol):
    name: str
    reason: str

    async def apply(self, agent: Agent) -> dict[str, Any]: ...


@dataclass
class CachingOptimizer:
    """Turn on the response cache when requests repeat."""

    maxsize: int = 1024
    reason: str = ""
    name: str = "caching"

    async def apply(self, agent: Agent) -> dict[str, Any]:
        from kaizen_lab.models.cache import CachedModel, MemoryCache

        if isinstance(agent.model, CachedModel):
            return {"changed": False, "detail": "the cache was already on"}
        cached = CachedModel(agent.model, MemoryCache(self.maxsize))
        agent.model = cached
        return {"changed": True, "detail": f"in-memory response cache of {self.maxsize} entries"}


@dataclass
class ModelSelectionOptimizer:
    """Pick the cheapest candidate model whose quality on ``eval_set`` reaches ``threshold``.

    ``candidates`` are ``(model, price_per_1m_tokens)`` pairs or model objects/strings (ranked in the given
    order, cheapest first).
    """

    candidates: Sequence[Any]
    eval_set: Sequence[Mapping[str, Any]]
    metric: str | Metric = "exact_match"
    threshold: float = 0.9
    reason: str = ""
    name: str = "model_selection"

    async def apply(self, agent: Agent) -> dict[str, Any]:
        from kaizen_lab.agents.agent import Agent as AgentCls

        pairs = [(c[0], c[1]) if isinstance(c, tuple) else (c, None) for c in self.candidates]
        ranked = sorted(pairs, key=lambda cp: (cp[1] is None, cp[1] or 0.0))  # cheapest first, unpriced last
        tried = []
        for model, price in ranked:
            probe = AgentCls(agent.agent_id, agent.signature, model=model, tools=list(agent.tools),
                             max_retries=agent.max_retries, adapter=agent.adapter)
            report = await aevaluate(probe, self.eval_set, self.metric, progress=False)
            label = probe.model_label
            tried.append({"model": label, "price": price, "score": report.mean})
            if report.mean >= self.threshold:
                agent.model = probe.model
                return {"changed": True, "detail": f"{label} scored {report.mean:.3f} ≥ {self.threshold}",
                        "tried": tried}
        return {"changed": False, "detail": f"no candidate reached {self.threshold}", "tried": tried}


@dataclass
class PromptOptimizerStep:
    """Run the prompt optimizer on ``training_data`` and keep the winning prompt if it improved."""

    training_data: Sequence[Mapping[str, Any]]
    metric: str | Metric = "exact_match"
    budget: int | None = None
    reason: str = ""
    name: str = "prompt"

    async def apply(self, agent: Agent) -> dict[str, Any]:
        from kaizen_lab.optimize.prompt import PromptOptimizer

        result = await PromptOptimizer(self.metric, budget=self.budget).aoptimize(agent, self.training_data)
        if result.report.improved:
            agent.signature = result.signature
        return {"changed": result.report.improved, "detail": result.report.summary()}


@dataclass
class ResourceOptimizer:
    """Measure throughput at several concurrency levels on a workload and keep the best."""

    workload: Sequence[Mapping[str, Any]] = ()
    levels: Sequence[int] = (1, 2, 4, 8, 16)
    reason: str = ""
    name: str = "resources"
    chosen: int = 1

    async def apply(self, agent: Agent) -> dict[str, Any]:
        if not self.workload:
            raise UserError("ResourceOptimizer needs a workload (a list of inputs) to measure")
        timings = {}
        for level in self.levels:
            t0 = time.perf_counter()
            await agent.abatch(list(self.workload), concurrency=level, return_exceptions=True, progress=False)
            timings[level] = (time.perf_counter() - t0) * 1000
        self.chosen = min(timings, key=lambda k: timings[k])
        agent.batch_concurrency = self.chosen
        return {"changed": True, "detail": f"concurrency {self.chosen}", "timings_ms": timings}


@dataclass
class OptimizationPlan:
    """Optimizations per agent id, each with the reason found in the data."""

    steps: list[tuple[str, Any]]
    findings: dict[str, dict[str, Any]]

    def describe(self) -> list[dict[str, str]]:
        return [{"agent_id": agent_id, "optimization": opt.name, "reason": opt.reason} for agent_id, opt in self.steps]


@dataclass
class OptimizationResults:
    """Measured before/after per applied optimization, and the errors of those that failed."""

    before: Measurement
    after: Measurement
    applied: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def model_calls_saved(self) -> int:
        return self.before.model_calls - self.after.model_calls

    def summary(self) -> dict[str, Any]:
        return {"before": self.before.to_dict(), "after": self.after.to_dict(), "applied": self.applied,
                "errors": self.errors, "model_calls_saved": self.model_calls_saved}


def _record(item: Any) -> dict[str, Any]:
    if hasattr(item, "metadata") and hasattr(item, "inputs"):
        meta = item.metadata
        return {"agent_id": meta.agent_id, "inputs": dict(item.inputs), "model_calls": meta.model_calls,
                "duration_ms": meta.duration_ms, "cost": meta.cost, "error": None, "model": meta.model}
    if isinstance(item, Mapping):
        return {"agent_id": item.get("agent_id"), "inputs": dict(item.get("inputs") or {}),
                "model_calls": int(item.get("model_calls", 1)), "duration_ms": float(item.get("duration_ms", 0.0)),
                "cost": item.get("cost"), "error": item.get("error"), "model": item.get("model", "")}
    raise UserError(f"performance data items must be ExecutionResults or dicts, got {type(item).__name__}")


class AutoOptimizationEngine:
    """Plans and applies optimizations for a set of agents from their measured behaviour.

    Args:
        agents: the agents that may be changed (by id): a list, a dict by id, or a ``Kaizen`` (its agents).
        repeat_threshold: share of repeated identical inputs above which caching is proposed.
        slow_ms: p50 latency above which concurrency tuning is proposed.
        eval_sets / candidate_models / training_data: per agent id, enabling model selection and prompt steps.
    """

    def __init__(self, agents: Sequence[Agent] | Mapping[str, Agent], *, repeat_threshold: float = 0.2,
                 slow_ms: float = 500.0, eval_sets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                 candidate_models: Mapping[str, Sequence[Any]] | None = None,
                 training_data: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                 metric: str | Metric = "exact_match", quality_threshold: float = 0.9) -> None:
        agents = getattr(agents, "agents", agents)  # a Kaizen brings the agents it created
        items = agents.values() if isinstance(agents, Mapping) else agents
        self.agents = {a.agent_id: a for a in items}
        self.repeat_threshold = repeat_threshold
        self.slow_ms = slow_ms
        self.eval_sets = dict(eval_sets or {})
        self.candidate_models = dict(candidate_models or {})
        self.training_data = dict(training_data or {})
        self.metric = metric
        self.quality_threshold = quality_threshold

    def optimize_framework(self, performance_data: Sequence[Any]) -> OptimizationPlan:
        """Find bottlenecks in the run records and propose optimizations, each with its reason."""
        records = [_record(x) for x in performance_data]
        by_agent: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_agent.setdefault(str(r["agent_id"]), []).append(r)
        steps: list[tuple[str, Any]] = []
        findings: dict[str, dict[str, Any]] = {}
        for agent_id, rows in by_agent.items():
            if agent_id not in self.agents:
                continue
            keys = [json.dumps(r["inputs"], sort_keys=True, default=str) for r in rows]
            repeated = 1 - len(set(keys)) / len(keys)
            latencies = sorted(r["duration_ms"] for r in rows)
            p50 = statistics.median(latencies)
            errors = sum(1 for r in rows if r["error"]) / len(rows)
            costs = [r["cost"] for r in rows if r["cost"] is not None]
            findings[agent_id] = {"runs": len(rows), "repeated_share": round(repeated, 3), "p50_ms": round(p50, 2),
                                  "error_rate": round(errors, 3), "cost": sum(costs) if costs else None}
            if repeated >= self.repeat_threshold:
                steps.append((agent_id, CachingOptimizer(reason=f"{repeated:.0%} of {len(rows)} requests repeat "
                                                                f"identical inputs")))
            if agent_id in self.candidate_models and agent_id in self.eval_sets:
                steps.append((agent_id, ModelSelectionOptimizer(
                    self.candidate_models[agent_id], self.eval_sets[agent_id], self.metric, self.quality_threshold,
                    reason="cheaper candidate models are configured with an eval set")))
            if agent_id in self.training_data:
                steps.append((agent_id, PromptOptimizerStep(self.training_data[agent_id], self.metric,
                                                            reason="labelled training data is available")))
            if p50 >= self.slow_ms and len(rows) > 1:
                unique = [json.loads(k) for k in dict.fromkeys(keys)]
                steps.append((agent_id, ResourceOptimizer(unique[:32], reason=f"p50 latency {p50:.0f} ms over "
                                                                              f"{len(rows)} runs")))
        return OptimizationPlan(steps, findings)

    async def measure(self, workload: Sequence[tuple[str, Mapping[str, Any]]],
                      quality: Callable[[], float] | None = None) -> Measurement:
        """Replay ``(agent_id, inputs)`` pairs in order and total what they cost."""
        calls = errors = 0
        cost: float | None = None
        latencies = []
        t0 = time.perf_counter()
        for agent_id, inputs in workload:
            try:
                result = await self.agents[agent_id].arun(inputs)
            except KaizenError as exc:
                errors += 1
                calls += sum(1 for e in exc.events if getattr(e, "kind", "") == "model_called")
                continue
            meta = result.metadata
            calls += meta.model_calls - meta.cache_hits
            latencies.append(meta.duration_ms)
            if meta.cost is not None:
                cost = (cost or 0.0) + meta.cost
        wall = (time.perf_counter() - t0) * 1000
        return Measurement(len(workload), calls, wall, statistics.fmean(latencies) if latencies else 0.0, cost,
                           errors, quality() if quality else None)

    async def aapply_optimizations(self, plan: OptimizationPlan,
                                   workload: Sequence[tuple[str, Mapping[str, Any]]]) -> OptimizationResults:
        before = await self.measure(workload)
        applied: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for agent_id, optimization in plan.steps:
            try:
                outcome = await optimization.apply(self.agents[agent_id])
            except Exception as exc:  # noqa: BLE001 - recorded per optimization; the others still run
                errors.append({"agent_id": agent_id, "optimization": optimization.name,
                               "error": f"{type(exc).__name__}: {exc}"})
                continue
            applied.append({"agent_id": agent_id, "optimization": optimization.name, "reason": optimization.reason,
                            **outcome})
        after = await self.measure(workload)
        return OptimizationResults(before, after, applied, errors)

    def apply_optimizations(self, plan: OptimizationPlan,
                            workload: Sequence[tuple[str, Mapping[str, Any]]]) -> OptimizationResults:
        """Apply ``plan`` and measure the replayed ``workload`` before and after."""
        return run_sync(self.aapply_optimizations(plan, workload))
