"""A tiny trained and evaluated run, shared by the tests of events, reporting and report.

Training and evaluating cost a few seconds of tracing, so the run is made once
per pytest process (in the session's temporary directory) however many test
modules ask for it.
"""

import os

from convnet import evaluation, training

_CACHE = {}


def evaluated_run(tmp_path_factory):
    """4 steps logged every 2, both checkpoints evaluated into a separate eval_dir.

    Returns (train_dir, eval_dir, {step: precision}).
    """
    if "run" in _CACHE:
        return _CACHE["run"]
    root = tmp_path_factory.mktemp("run")
    config = training.TrainConfig.from_settings(
        train_dir=str(root / "train"), data_source="synthetic", max_steps=4, batch_size=8,
        optimizer="adam", shuffle_buffer=16, log_frequency=2, save_checkpoint_steps=2,
        num_parallel_calls=2)
    training.Trainer(config).train()
    evaluator = evaluation.Evaluator(evaluation.EvalConfig.from_settings(
        checkpoint_dir=config.train_dir, eval_dir=str(root / "elsewhere_eval"),
        data_source="synthetic", num_examples=16, batch_size=8, run_once=True,
        num_parallel_calls=2))
    precision = {}
    for step in (2, 4):
        result = evaluator.evaluate_checkpoint(os.path.join(config.train_dir, f"ckpt-{step}"))
        precision[step] = result.precision
    evaluator.writer.close()
    _CACHE["run"] = config.train_dir, str(root / "elsewhere_eval"), precision
    return _CACHE["run"]
