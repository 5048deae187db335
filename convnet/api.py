"""convnet from Python: train, evaluate and load a trained model in a notebook or a script.

    import convnet
    from convnet.data.sources.arrays import ArraySource

    result = convnet.fit(model="lenet5", train_dir="/tmp/run", data_source="synthetic",
                         max_steps=200, eval_at_end=True)
    result.precision                     # precision @ 1 on the test split, at the end
    convnet.fit(train_dir="/tmp/mine", model=my_factory,       # your model and your data
                source=ArraySource(train=(x, y), test=(x_test, y_test)), epochs=10)
    convnet.evaluate("/tmp/run").precision                   # exact, every example once
    convnet.load("/tmp/run").probabilities(uint8_images)     # a trained model

Settings are those of the command line, as config fields (`TrainConfig`, `EvalConfig`) or
keywords, and go through the same checks. Failures raise (`convnet.runtime.errors`: each names
the problem and the way out), never exit the process; the mains are thin over these calls.
"""

import dataclasses
from collections.abc import Callable, Sequence

from convnet import evaluation, models, training
from convnet.checkpoints import files as checkpoint_files
from convnet.data.sources.base import Source
from convnet.evaluation import EvalConfig, EvalResult
from convnet.serving import loaded_model
from convnet.training import TrainConfig


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What a `fit` left behind.

    Attributes:
      step: the run's final step (a rerun that had nothing left to do: the step it found).
      train_dir: the directory of its checkpoints, run.json and TensorBoard events.
      checkpoint: the newest checkpoint's prefix (e.g. train_dir/ckpt-2000), or None.
      loss: the last training loss (of the last batch trained in this call), or None.
      precision: precision @ 1 on the test split at the end (`eval_at_end=True`), else None.
      seconds: wall time of the run from process start, by phase (start-up, data,
        initialisation, training, evaluation), as the time-to-accuracy line gives it.
      stop_reason: why a callback stopped the run before its last step, or None.
    """
    step: int
    train_dir: str
    checkpoint: str | None
    loss: float | None
    precision: float | None
    seconds: dict[str, float]
    stop_reason: str | None = None


def fit(config: TrainConfig | None = None, *, recipe: str | None = None,
        model: str | Callable | None = None, source: Source | None = None,
        callbacks: Sequence[training.Callback] = (), **settings) -> FitResult:
    """Trains (or resumes) a run; returns its `FitResult`.

    Args:
      config: the run's settings (default: `TrainConfig()`, the tutorial's).
      recipe: a shipped recipe's name (`--recipe=NAME`: its settings and its precision file,
        as the command line reads them; `TrainConfig.from_recipe`), instead of `config`.
      model: a `--model` name or import path, or a factory (called with `num_classes` and
        `weight_decay`, returning a `convnet.models.Model`). A factory importable by its
        module path is recorded as that path; one defined in `__main__` or a notebook is
        registered under its name in this process (register it again before evaluating or
        loading the run in another process).
      source: your data (a `convnet.data.Source`, e.g. `ArraySource`, `FolderSource`) in place
        of the config's data settings.
      callbacks: `convnet.training.Callback`s, run in the loop after the Trainer's own jobs
        (each sees the step, the round's loss and metrics and the state, and may stop the run).
      **settings: settings by flag name (`momentum=0.9`, `batch_size=256`: the config's
        fields and those of the configs nested in it) that replace the config's.

    Raises:
      ValueError, ConvnetError: bad settings, missing data, a train_dir of another run, a
        diverging loss, ... (each names the problem and the way out).
    """
    if recipe is not None:
        if config is not None:
            raise ValueError("fit: give a config or a recipe, not both (add settings as "
                             "keywords: fit(recipe=..., epochs=3))")
        config = TrainConfig.from_recipe(recipe, **settings)
    else:
        config = (config or TrainConfig()).with_settings(**settings)
    if model is not None:
        config = dataclasses.replace(config, model=model_name(model))
    with training.Trainer(config, source=source, callbacks=callbacks) as trainer:
        step = trainer.train()
        return FitResult(step, config.train_dir,
                         checkpoint_files.latest_checkpoint(config.train_dir),
                         trainer.last_loss, trainer.final_precision,
                         dict(trainer.clock.seconds), trainer.stop_reason)


def evaluate(checkpoint_dir: str | EvalConfig, *, source: Source | None = None,
             **settings) -> EvalResult:
    """Evaluates the latest checkpoint of a train_dir once: every example of the split counted
    once (`EvalResult`: precision, counts, per-class figures, confusion matrix).

    Args:
      checkpoint_dir: a train_dir, or a whole `EvalConfig`.
      source: the data to evaluate on, in place of the config's data settings (needed for a
        run trained on a Python source).
      **settings: settings by flag name (`top_k`, `eval_data`, `tta`, `num_examples`,
        `batch_size`, ...).
    """
    if isinstance(checkpoint_dir, EvalConfig):
        config = checkpoint_dir.with_settings(**settings)
    else:
        config = EvalConfig.from_settings(
            checkpoint_dir=checkpoint_dir,
            eval_dir=settings.pop("eval_dir", f"{checkpoint_dir}/eval"), run_once=True,
            **settings)
    return evaluation.Evaluator(config, source=source).run()


def load(train_dir: str, checkpoint: str | None = None, use_ema: bool = True,
         *, restore_fallback: bool = True) -> loaded_model.InferenceModel:
    """A trained model ready to classify uint8 images at the dataset's native size
    (`InferenceModel.logits`, `.probabilities`), with the moving averages of its weights unless
    `use_ema=False`, from the latest checkpoint unless `checkpoint` names one."""
    return loaded_model.load(train_dir, checkpoint, use_ema, restore_fallback=restore_fallback)


def model_name(model: str | Callable) -> str:
    """What run.json records for `model` (see `fit`)."""
    if isinstance(model, str):
        models.check_name(model)
        return model
    path = models.import_path(model)
    if path:
        return path
    name = getattr(model, "__name__", None) or type(model).__name__
    models.register(name, model, replace=True)
    return name
