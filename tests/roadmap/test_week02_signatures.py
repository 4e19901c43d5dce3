"""Week 2 and 6: signatures parsed, compiled to Kailash workflows, their prompts generated and optimized."""

from __future__ import annotations

import json

import pytest
from kailash.runtime.local import LocalRuntime
from kailash.workflow.builder import WorkflowBuilder

from kaizen_lab import (
    FunctionModel,
    PromptOptimizer,
    Signature,
    SignatureCompiler,
    SignatureParser,
    UserError,
)


def test_signature_parser_parses_text_and_functions() -> None:
    parser = SignatureParser()
    sig = parser.parse_string_signature("question: str -> answer: str, confidence: float")
    assert sig.input_names == ("question",) and sig.output_names == ("answer", "confidence")
    assert sig.fields["confidence"].annotation is float

    def summarize(text: str, max_words: int = 50) -> str:
        """Summarize the text."""
        return ""

    from_fn = parser.parse_function_signature(summarize)
    assert from_fn.input_names == ("text", "max_words") and from_fn.instructions == "Summarize the text."


def test_create_signature_keeps_the_description(kaizen) -> None:  # noqa: ANN001
    sig = kaizen.create_signature("question: str -> answer: str", "Answer in one sentence.")
    assert sig.instructions == "Answer in one sentence."
    assert sig.input_schema()["required"] == ["question"]
    assert sig.output_schema()["properties"]["answer"]["type"] == "string"
    # the roadmap reads them as attributes (e.g. into a node's config): the same JSON-ready dicts
    assert sig.input_schema == sig.input_schema() and json.loads(json.dumps(sig.output_schema)) == sig.output_schema()


def test_compiled_signature_runs_on_the_core_sdk_runtime(kaizen) -> None:  # noqa: ANN001
    signature = kaizen.create_signature("question: str -> answer: str")
    workflow = signature.compile_to_workflow()
    assert isinstance(workflow, WorkflowBuilder)
    runtime = LocalRuntime()
    # the roadmap passes the inputs positionally, where LocalRuntime takes task_manager: parameters= is right
    results, run_id = runtime.execute(workflow.build(), parameters={"question": "Test"})
    assert results["input"]["inputs"] == {"question": "Test"}  # the input reached the validation node
    assert results["output"] == {"answer": "test answer"}     # the test model's answer, validated
    assert run_id is not None


def test_signature_compiler_compiles_and_renders_prompts() -> None:
    signature = Signature("question: str -> answer: str", instructions="Be brief.")
    compiler = SignatureCompiler()
    workflow = compiler.compile_to_workflow(signature)
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow.build(), parameters={"question": "q"})
    assert results["output"] == {"answer": "test answer"}
    assert compiler.generate_prompt(signature) == signature.generate_prompt()
    assert compiler.generate_prompt(signature).startswith("Be brief.")


def test_signature_to_node_composes_into_a_workflow() -> None:
    sig = Signature("text: str -> summary: str")
    workflow = WorkflowBuilder()
    # Kailash's add_node_instance names the node itself unless given the id (it returns the one it used)
    node_id = workflow.add_node_instance(sig.to_node("summarize"), "summarize")
    with LocalRuntime(enable_monitoring=False) as runtime:
        results, _ = runtime.execute(workflow.build(), parameters={node_id: {"text": "long"}})
    assert results["summarize"]["summary"] == "test summary"
    assert results["summarize"]["kaizen"]["model_calls"] == 1


def test_generate_prompt_is_what_the_model_is_told() -> None:
    sig = Signature("question: str -> answer: str", instructions="Answer briefly.")
    prompt = sig.generate_prompt()
    assert prompt.startswith("Answer briefly.") and "- question (str)" in prompt and '"answer"' in prompt
    seen: list[str] = []

    def model(messages, info):  # noqa: ANN001, ANN202
        seen.append(messages[0].content)
        return {"answer": "ok"}

    from kaizen_lab import Agent

    Agent("qa", sig, model=FunctionModel(model)).execute(question="q")
    assert seen == [prompt]  # the generated prompt is exactly the system message sent
    with_demo = sig.with_demos([{"question": "2+2", "answer": "4"}]).generate_prompt()
    assert with_demo.startswith(prompt) and "question: 2+2" in with_demo and '{"answer": "4"}' in with_demo


def test_with_optimized_prompt_replaces_the_instructions() -> None:
    sig = Signature("question: str -> answer: str", instructions="Old.")
    better = sig.with_optimized_prompt("Answer with one word.")
    assert better.instructions == "Answer with one word." and sig.instructions == "Old."
    assert better.generate_prompt().startswith("Answer with one word.")
    with pytest.raises(UserError, match="instructions text or the result of"):
        sig.with_optimized_prompt(42)


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
TRAINING = [{"question": w, "answer": w.upper()} for w in WORDS]


def demo_learner(messages, info):  # noqa: ANN001, ANN201
    """Answers right (upper case) only when the prompt shows worked examples, i.e. when demos help."""
    if "question" not in messages[-1].content:  # the optimizer's instruction writer: no proposal
        return {"improved_instructions": ""}
    word = messages[-1].content.split(":", 1)[1].strip()
    return {"answer": word.upper() if len(messages) > 2 else "no idea"}


def test_optimize_prompt_returns_a_better_signature() -> None:
    from kaizen_lab import Agent
    from kaizen_lab.optimize import evaluate

    signature = Signature("question: str -> answer: str")
    optimized = signature.optimize_prompt(TRAINING, model=FunctionModel(demo_learner))
    assert isinstance(optimized, Signature) and optimized.demos  # demos were what helped
    assert optimized.input_names == signature.input_names
    model = FunctionModel(demo_learner)
    before = evaluate(Agent("before", signature, model=model), TRAINING).mean
    after = evaluate(Agent("after", optimized, model=model), TRAINING).mean
    assert before == 0.0 and after == 1.0


def test_prompt_optimizer_result_goes_through_with_optimized_prompt() -> None:
    signature = Signature("question: str -> answer: str")
    optimized_prompt = PromptOptimizer().optimize_signature_prompt(signature, TRAINING,
                                                                   model=FunctionModel(demo_learner))
    assert optimized_prompt.report.optimized.mean > optimized_prompt.report.baseline.mean
    assert str(optimized_prompt) == optimized_prompt.signature.generate_prompt()
    applied = signature.with_optimized_prompt(optimized_prompt)
    assert applied.demos == optimized_prompt.signature.demos and applied == optimized_prompt.signature
