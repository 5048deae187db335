"""Exact evaluation of a checkpoint: every example counted once, top-k, confusion, TTA.

  evaluator  EvalConfig, Evaluator and `evaluate` (python -m convnet.eval)
  counting   exact top-k and confusion counts over a split
  confusion  the confusion matrix as a TensorBoard image and a CSV file
  tta        test-time augmentation (flips, translations)
"""

from convnet.evaluation.counting import EvalResult
from convnet.evaluation.evaluator import EvalConfig, Evaluator, evaluate

__all__ = ["EvalConfig", "EvalResult", "Evaluator", "evaluate"]
