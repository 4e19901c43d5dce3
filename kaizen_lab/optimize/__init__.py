"""Optimization: evaluation with confidence intervals, the prompt optimizer and the auto-optimization engine."""

from kaizen_lab.optimize.engine import (
    AutoOptimizationEngine,
    CachingOptimizer,
    Measurement,
    ModelSelectionOptimizer,
    OptimizationPlan,
    OptimizationResults,
    PromptOptimizerStep,
    ResourceOptimizer,
)
from kaizen_lab.optimize.evaluate import (
    EvaluationReport,
    bootstrap_ci,
    evaluate,
    exact_match,
    get_metric,
    json_field_match,
    normalized_match,
    numeric_tolerance,
    token_f1,
)
from kaizen_lab.optimize.prompt import OptimizationReport, OptimizedPrompt, PromptOptimizer

__all__ = [
    # evaluation
    "EvaluationReport", "bootstrap_ci", "evaluate", "exact_match", "get_metric", "json_field_match",
    "normalized_match", "numeric_tolerance", "token_f1",
    # prompt optimization
    "OptimizationReport", "OptimizedPrompt", "PromptOptimizer",
    # auto-optimization engine
    "AutoOptimizationEngine", "CachingOptimizer", "Measurement", "ModelSelectionOptimizer", "OptimizationPlan",
    "OptimizationResults", "PromptOptimizerStep", "ResourceOptimizer",
]
