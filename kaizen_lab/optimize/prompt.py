"""``PromptOptimizer``: search instructions and few-shot demos within a budget; report before and after.

Candidates: (a) demos — labelled examples and bootstrapped ones (training examples the model answered
correctly); (b) instruction variants — templates and rewrites proposed by the model itself; (c) the best of
each combined. Every candidate is scored on a held-out validation split; the report gives the baseline and the
winner with bootstrap confidence intervals, the calls and cost spent, and the table of candidates.
Deterministic for a seed (the split, the demo samples and the bootstrap).
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kaizen_lab._aio import run_sync
from kaizen_lab.errors import UserError
from kaizen_lab.optimize.evaluate import EvaluationReport, Metric, aevaluate, get_metric, split_example

if TYPE_CHECKING:
    from kaizen_lab._progress import Bar
    from kaizen_lab.agents.agent import Agent
    from kaizen_lab.models.base import ModelBase
    from kaizen_lab.signatures.signature import Signature

__all__ = ["Candidate", "OptimizationReport", "OptimizedPrompt", "PromptOptimizer", "INSTRUCTION_TEMPLATES"]

INSTRUCTION_TEMPLATES = (
    "{base}",
    "{base} Answer with only the requested value, no explanation.",
    "{base} Be precise and concise.",
    "{base} Follow the format of the examples exactly.",
)
REWRITE_SIGNATURE = ("instructions: str, examples: str -> improved_instructions: str")


@dataclass(frozen=True)
class Candidate:
    name: str
    kind: str
    instructions: str
    demos: tuple[dict[str, Any], ...]
    score: float = 0.0
    ci: tuple[float, float] = (0.0, 0.0)
    calls: int = 0

    def row(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "score": round(self.score, 4),
                "ci": [round(x, 4) for x in self.ci], "demos": len(self.demos), "calls": self.calls,
                "instructions": self.instructions}


@dataclass(frozen=True)
class OptimizationReport:
    """What changed, by how much, with what confidence, at what cost."""

    baseline: EvaluationReport
    optimized: EvaluationReport
    winner: Candidate
    candidates: list[Candidate]
    calls_used: int
    budget: int | None
    cost: float | None
    seed: int
    train_size: int
    validation_size: int

    @property
    def improvement(self) -> float:
        return self.optimized.mean - self.baseline.mean

    @property
    def improved(self) -> bool:
        return self.improvement > 0

    def summary(self) -> dict[str, Any]:
        return {"baseline": self.baseline.summary(), "optimized": self.optimized.summary(),
                "improvement": round(self.improvement, 4), "winner": self.winner.row(),
                "calls_used": self.calls_used, "budget": self.budget, "cost": self.cost, "seed": self.seed,
                "train_size": self.train_size, "validation_size": self.validation_size,
                "candidates": [c.row() for c in self.candidates]}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        b, o = self.baseline, self.optimized
        text = (f"OptimizationReport: {b.mean:.3f} [{b.ci[0]:.3f}, {b.ci[1]:.3f}] -> {o.mean:.3f} "
                f"[{o.ci[0]:.3f}, {o.ci[1]:.3f}] ({self.improvement:+.3f}) with {self.winner.name!r}; "
                f"{self.calls_used} model calls")
        rows = "".join(f"<tr><td>{html.escape(c.name)}</td><td>{c.kind}</td><td>{c.score:.3f}</td>"
                       f"<td>{len(c.demos)}</td><td>{c.calls}</td></tr>" for c in self.candidates)
        body = (f"<div class='kaizen-optimization'><b>Prompt optimization</b>: baseline {b.mean:.3f} → "
                f"optimized <b>{o.mean:.3f}</b> ({self.improvement:+.3f}), winner "
                f"<code>{html.escape(self.winner.name)}</code>, {self.calls_used} calls"
                f"<table><tr><th>candidate</th><th>kind</th><th>score</th><th>demos</th><th>calls</th></tr>"
                f"{rows}</table></div>")
        return {"text/plain": text, "text/html": body}


@dataclass(frozen=True)
class OptimizedPrompt:
    """The optimized signature (winning instructions and demos) and the report of the search.

    ``str()`` of it is the optimized prompt text; ``signature.with_optimized_prompt(it)`` applies it.
    """

    signature: Signature
    report: OptimizationReport

    @property
    def prompt(self) -> str:
        """The optimized prompt as the model sees it (``signature.generate_prompt()``)."""
        return self.signature.generate_prompt()

    def __str__(self) -> str:
        return self.prompt


@dataclass
class PromptOptimizer:
    """Search prompts for ``metric`` on labelled ``training_data``.

    Args:
        metric: a metric name or ``fn(expected, predicted) -> float``.
        max_demos: the most demos in a prompt.
        demo_sets: how many random demo sets to try.
        budget: the most model calls the search may spend (``None``: no limit).
        propose_instructions: how many instruction rewrites to ask the model for.
        validation_fraction: share of the data held out for scoring.
        progress: ``fn(event: dict)`` called after each candidate (the notebook draws a live chart).
        show_progress: ``True``/``False`` forces the progress bar over the candidates on or off (default: shown
            when someone watches and no ``progress`` callback is given, see ``kaizen_lab._progress``).
    """

    metric: str | Metric = "exact_match"
    max_demos: int = 3
    demo_sets: int = 4
    budget: int | None = None
    propose_instructions: int = 2
    validation_fraction: float = 0.5
    seed: int = 0
    concurrency: int = 8
    templates: Sequence[str] = INSTRUCTION_TEMPLATES
    progress: Callable[[dict[str, Any]], None] | None = None
    show_progress: bool | None = None
    _calls: int = field(default=0, init=False)

    def optimize(self, target: Agent | Signature, training_data: Sequence[Mapping[str, Any]], *,
                 model: str | ModelBase | None = None) -> OptimizedPrompt:
        return run_sync(self.aoptimize(target, training_data, model=model))

    def optimize_signature_prompt(self, signature: Signature, training_data: Sequence[Mapping[str, Any]], *,
                                  model: str | ModelBase | None = None) -> OptimizedPrompt:
        """The roadmap's spelling of ``optimize``: pass the result to ``signature.with_optimized_prompt``."""
        return self.optimize(signature, training_data, model=model)

    async def aoptimize(self, target: Agent | Signature, training_data: Sequence[Mapping[str, Any]], *,
                        model: str | ModelBase | None = None) -> OptimizedPrompt:
        from kaizen_lab._progress import progress_bar

        # a progress callback draws its own view (the notebook's live chart): no bar then, unless asked
        shown = self.show_progress if self.show_progress is not None or self.progress is None else False
        with progress_bar(None, "optimize prompt", unit="candidate", enabled=shown) as bar:
            return await self._search(target, training_data, model, bar)

    async def _search(self, target: Agent | Signature, training_data: Sequence[Mapping[str, Any]], model: Any,
                      bar: Bar) -> OptimizedPrompt:
        from kaizen_lab.agents.agent import Agent

        agent = target if isinstance(target, Agent) else Agent("optimize", target, model=model)
        if model is not None and isinstance(target, Agent):
            agent = Agent(target.agent_id, target.signature, model=model, tools=list(target.tools),
                          max_retries=target.max_retries, adapter=target.adapter)
        signature = agent.signature
        data = list(training_data)
        if len(data) < 4:
            raise UserError(f"prompt optimization needs at least 4 labelled examples, got {len(data)}")
        for item in data:
            split_example(signature, item)
        metric = get_metric(self.metric)
        rng = random.Random(self.seed)
        order = list(range(len(data)))
        rng.shuffle(order)
        n_val = max(2, int(round(len(data) * self.validation_fraction)))
        val = [data[i] for i in order[:n_val]]
        train = [data[i] for i in order[n_val:]] or [data[i] for i in order[:n_val]]
        self._calls = 0

        async def score(name: str, kind: str, instructions: str, demos: Sequence[dict[str, Any]]
                        ) -> tuple[Candidate, EvaluationReport]:
            sig = signature.with_instructions(instructions).with_demos(demos)
            with agent.override():
                agent.signature = sig
                report = await aevaluate(agent, val, metric, concurrency=self.concurrency, seed=self.seed,
                                         progress=False)
            self._calls += report.model_calls
            cand = Candidate(name, kind, instructions, tuple(demos), report.mean, report.ci, report.model_calls)
            bar.update()
            bar.note(f"{name}: {report.mean:.2f} ({self._calls} model calls)")
            if self.progress is not None:
                self.progress({"candidate": name, "kind": kind, "score": report.mean, "ci": list(report.ci),
                               "calls_used": self._calls})
            return cand, report

        def room() -> bool:
            return self.budget is None or self._calls + len(val) <= self.budget

        base_instr = signature.instructions
        baseline, baseline_report = await score("baseline", "baseline", base_instr, signature.demos)
        tried: list[tuple[Candidate, EvaluationReport]] = [(baseline, baseline_report)]

        # (a) demos: labelled examples, then bootstrapped ones the model got right
        pool = [dict(x) for x in train]
        bootstrapped: list[dict[str, Any]] = []
        if room():
            boot = await aevaluate(agent, train, metric, concurrency=self.concurrency, seed=self.seed,
                                   progress=False)
            self._calls += boot.model_calls
            bootstrapped = [{**r["inputs"], **r["predicted"]} for r in boot.records
                            if r["predicted"] is not None and r["score"] >= 1.0]
        demo_candidates: list[tuple[str, list[dict[str, Any]]]] = []
        for i in range(self.demo_sets):
            source = bootstrapped if (i % 2 == 1 and bootstrapped) else pool
            k = min(self.max_demos, len(source))
            if k:
                demo_candidates.append((f"{'bootstrapped' if source is bootstrapped else 'labelled'}-demos-{i}",
                                        rng.sample(source, k)))
        for name, demos in demo_candidates:
            if not room():
                break
            tried.append(await score(name, "demos", base_instr, demos))

        # (b) instructions: templates and the model's own rewrites
        variants = [(f"template-{i}", t.format(base=base_instr or "Produce the output fields.").strip())
                    for i, t in enumerate(self.templates) if t != "{base}"]
        variants += await self._proposals(agent, base_instr, train)
        for name, text in variants:
            if not room():
                break
            tried.append(await score(name, "instructions", text, signature.demos))

        # (c) the best instructions with the best demos
        best_demos = max((c for c, _ in tried if c.kind == "demos"), key=lambda c: c.score, default=None)
        best_instr = max((c for c, _ in tried if c.kind == "instructions"), key=lambda c: c.score, default=None)
        if best_demos and best_instr and room():
            tried.append(await score("combined", "combined", best_instr.instructions, list(best_demos.demos)))

        # ties go to the earlier (simpler) candidate, so the baseline wins when nothing helps
        winner, winner_report = max(tried, key=lambda t: t[0].score)
        optimized = signature.with_instructions(winner.instructions).with_demos(list(winner.demos))
        costs = [r.cost for _, r in tried if r.cost is not None]
        report = OptimizationReport(baseline_report, winner_report, winner, [c for c, _ in tried], self._calls,
                                    self.budget, sum(costs) if costs else None, self.seed, len(train), len(val))
        return OptimizedPrompt(optimized, report)

    async def _proposals(self, agent: Agent, base: str, train: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
        from kaizen_lab.agents.agent import Agent
        from kaizen_lab.errors import KaizenError

        if not self.propose_instructions:
            return []
        examples = "\n".join(str(dict(x)) for x in list(train)[:3])
        writer = Agent("instruction-writer", REWRITE_SIGNATURE, model=agent.model, max_retries=1)
        out: list[tuple[str, str]] = []
        for i in range(self.propose_instructions):
            if self.budget is not None and self._calls + 1 + writer.max_retries > self.budget:
                break
            try:
                result = await writer.arun({"instructions": f"{base} (variant {i + 1})".strip(),
                                            "examples": examples})
            except KaizenError as exc:
                # a model that cannot rewrite just gives no proposal; the search goes on
                self._calls += sum(1 for e in exc.events if getattr(e, "kind", "") == "model_called")
                continue
            self._calls += result.metadata.model_calls
            text = str(result.improved_instructions).strip()
            if text and text not in {t for _, t in out}:
                out.append((f"proposed-{i}", text))
        return out
