"""The convnet.eval main: `evaluation.evaluate` of the config of its flags; its --help.

(Evaluation itself: tests/evaluation/test_evaluator.py; the main through a subprocess:
tests/mains/test_command_lines.py.)"""

import pytest

from convnet import eval as eval_main
from convnet import evaluation

from helpers import check_run_derives_its_flags_from, run_main


def test_run_evaluates_the_config_of_the_eval_flags(monkeypatch):
    check_run_derives_its_flags_from(monkeypatch, eval_main, evaluation.evaluate,
                                     evaluation.EvalConfig)


@pytest.mark.slow
def test_help_lists_the_eval_flags():
    evaluation = run_main("convnet.eval", "--help")  # absl exits 1 after printing help
    assert "--top_k" in evaluation.stdout and "--use_ema" in evaluation.stdout
