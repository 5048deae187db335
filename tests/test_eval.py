"""The convnet.eval main: the config of its flags handed to `evaluation.evaluate`; its --help.

(Evaluation itself: test_evaluation.py; the main through a subprocess: test_cli.py.)"""

from types import SimpleNamespace

import pytest

from convnet import eval as eval_main
from convnet.errors import CheckpointError
from test_cli import _run, check_run_defines_flags_then_runs_main


def test_main_evaluates_the_config_of_the_flags(monkeypatch):
    evaluated = []
    monkeypatch.setattr(eval_main, "flags", SimpleNamespace(
        config_from_flags=lambda config_class: ("config", config_class)))
    monkeypatch.setattr(eval_main, "evaluation", SimpleNamespace(
        EvalConfig="EvalConfig", evaluate=evaluated.append))
    assert eval_main.main() is None
    assert evaluated == [("config", "EvalConfig")]

    def no_checkpoint(config):
        raise CheckpointError("no checkpoint found")

    monkeypatch.setattr(eval_main.evaluation, "evaluate", no_checkpoint)
    with pytest.raises(CheckpointError):  # printed in one line by cli.run_main
        eval_main.main()


def test_run_defines_the_eval_flags_and_runs_main_through_cli(monkeypatch):
    check_run_defines_flags_then_runs_main(monkeypatch, eval_main, "define_eval_flags")


def test_help_lists_the_eval_flags():
    evaluation = _run("convnet.eval", "--help")  # absl exits 1 after printing help
    assert "--top_k" in evaluation.stdout and "--use_ema" in evaluation.stdout
