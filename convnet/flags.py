"""absl flag definitions shared by the mains, and their mapping onto config dataclasses.

Each `define_*` function is idempotent, so mains can share groups of flags.
Flag names equal the config field names; `config_from_flags` fills a config
dataclass from the parsed flags.
"""

import dataclasses

from absl import flags

from convnet import distribute, ema, loss_watch, models, optim, precision, schedules
from convnet import train_config, tta
from convnet.data import pipeline, preprocess

FLAGS = flags.FLAGS


def _defined(name: str) -> bool:
    return name in FLAGS


def define_data_flags() -> None:
    """Input flags used by train, eval and bench."""
    if _defined("data_source"):
        return
    flags.DEFINE_enum("data_source", "files", list(pipeline.DATA_SOURCES),
                      "Where examples come from: files: the dataset's official files in "
                      "--data_dir (CIFAR binary or python layout, MNIST IDX, gzipped or not); "
                      "cifar_binary: the CIFAR binary files only (the former default); tfds: "
                      "tfds.load (--tfds_data_dir); synthetic: a learnable source shaped like "
                      "--dataset (no files).")
    flags.DEFINE_string("data_dir", "/tmp/cifar10_data",
                        "Directory holding the dataset's files, or its parent (e.g. "
                        "cifar-10-batches-bin, cifar-100-binary, cifar-10-batches-py or mnist/ "
                        "inside it). Downloaded there when absent, unless --nodownload.")
    flags.DEFINE_string("tfds_data_dir", None, "tfds data_dir for --data_source=tfds.")
    flags.DEFINE_string("dataset", None,
                        f"Dataset: {', '.join(pipeline.DATASETS)}; with --data_source=tfds, "
                        f"any tfds image-classification name. Default: cifar10 for training; "
                        f"for evaluation, the dataset the checkpoint was trained on.")
    flags.DEFINE_enum("label_mode", None, list(pipeline.LABEL_MODES),
                      "Labels to learn: fine (the dataset's classes) or coarse (CIFAR-100's 20 "
                      "superclasses). Default: fine for training; for evaluation, the run's.")
    flags.DEFINE_boolean("download", True,
                         "Download missing data (the official archive or files, MD5-checked; "
                         "tfds datasets through tfds).")
    flags.DEFINE_integer("num_parallel_calls", 16,
                         "Parallel preprocessing calls in Dataset.map (-1: autotune).",
                         lower_bound=-1)
    flags.DEFINE_integer("batch_size", 128, "Examples per batch (the global batch, split "
                         "across the replicas of --strategy).", lower_bound=1)
    flags.DEFINE_enum("strategy", "default", list(distribute.STRATEGIES),
                      "tf.distribute strategy: default (one device), one_device, mirrored (all "
                      "local GPUs), multi_worker (the cluster in TF_CONFIG), tpu (--tpu).")
    flags.DEFINE_string("tpu", None, "TPU name or grpc:// address for --strategy=tpu.")
    flags.DEFINE_enum("precision", "float32", list(precision.PRECISIONS),
                      "Compute dtype of the model: float32, or mixed_float16/mixed_bfloat16 "
                      "(variables, logits, loss and preprocessing stay float32; float16 uses a "
                      "dynamic loss scale).")
    flags.DEFINE_boolean("xla", False, "Compile the step with XLA (jit_compile=True); batches "
                         "have a fixed shape (evaluation pads and masks the last one).")


def define_train_flags() -> None:
    define_data_flags()
    if _defined("train_dir"):
        return
    flags.DEFINE_string("train_dir", "/tmp/cifar10_train",
                        "Directory for checkpoints, run.json and TensorBoard events. A rerun with "
                        "the same directory resumes from its latest checkpoint; nothing deletes it.")
    flags.DEFINE_integer("max_steps", None, "Number of batches to train on, in total, counting "
                         "steps of earlier runs in --train_dir (default: --epochs worth, else "
                         "1,000,000). With --epochs, stops the run early while the learning-rate "
                         "schedule keeps the --epochs horizon.", lower_bound=1)
    flags.DEFINE_enum("model", "cifar10", sorted(models.MODELS), "Model to train.")
    flags.DEFINE_float("epochs", None, "Epochs of the training split the run and its "
                       "learning-rate schedule span (see --max_steps).", lower_bound=0)
    flags.DEFINE_float("weight_decay", None, "L2 coefficient on every kernel (the loss adds "
                       "wd * l2_loss(w)); default: the model's own (0.004 on the tutorial model's "
                       "hidden dense layers, none elsewhere).", lower_bound=0)
    flags.DEFINE_enum("augmentation", "auto", ["auto", *preprocess.AUGMENTATIONS],
                      "Training augmentation: tutorial (random 24x24 crop, flip, brightness, "
                      "contrast), pad_crop (pad 4, random crop, flip), translate_altflip "
                      "(airbench's: reflect-padded random translation by up to --translate pixels "
                      "and the alternating flip, on whole batches), none. auto: tutorial for "
                      "--model=cifar10, pad_crop otherwise.")
    flags.DEFINE_enum("normalization", "auto", ["auto", *preprocess.NORMALIZATIONS],
                      "per_image standardization, or per_channel mean/std of the training split. "
                      "auto: per_image with tutorial augmentation, else per_channel.")
    flags.DEFINE_boolean("random_flip", None, "Random left-right flips (default: on, except "
                         "for MNIST digits).")
    flags.DEFINE_integer("translate", preprocess.TRANSLATE_PIXELS,
                         "--augmentation=translate_altflip: the largest random translation, in "
                         "pixels each way, of the reflect-padded image (airbench: 2; 0: none).",
                         lower_bound=0)
    flags.DEFINE_enum("optimizer", "sgd", list(optim.OPTIMIZERS), "Optimizer.")
    flags.DEFINE_float("learning_rate", None,
                       f"Initial learning rate (default {optim.INITIAL_LEARNING_RATE} for sgd as in "
                       f"the tutorial, {optim.ADAM_LEARNING_RATE} for adam).")
    flags.DEFINE_float("momentum", 0.0, "SGD momentum (0: plain gradient descent, the tutorial's).")
    flags.DEFINE_boolean("nesterov", False, "Nesterov momentum for SGD.")
    flags.DEFINE_enum("lr_schedule", "constant", list(schedules.SCHEDULES),
                      "Learning-rate schedule: constant; exponential (x--lr_decay_factor every "
                      "--num_epochs_per_decay epochs); piecewise (x--lr_decay_factor at each of "
                      "--lr_boundary_epochs); cosine (to 0 at the last step).")
    flags.DEFINE_list("lr_boundary_epochs", [], "Epochs at which the piecewise schedule "
                      "multiplies the learning rate by --lr_decay_factor, e.g. 150,225.")
    flags.DEFINE_boolean("lr_decay", False,
                         "Same as --lr_schedule=exponential, the tutorial's staircase decay: "
                         "multiply the learning rate "
                         "by --lr_decay_factor every --num_epochs_per_decay epochs. With the "
                         "tutorial's defaults (350 epochs, batch 128) the first decay is at step "
                         "136,718, so at the documented 100,000 steps it never fires.")
    flags.DEFINE_float("lr_decay_factor", schedules.LEARNING_RATE_DECAY_FACTOR,
                       "Learning-rate decay factor.")
    flags.DEFINE_float("num_epochs_per_decay", schedules.NUM_EPOCHS_PER_DECAY,
                       "Epochs between learning-rate decays.")
    flags.DEFINE_float("moving_average_decay", ema.MOVING_AVERAGE_DECAY,
                       "Decay of the exponential moving average of the weights used for eval.")
    flags.DEFINE_integer("shuffle_buffer", pipeline.SHUFFLE_BUFFER,
                         "Examples in the shuffle buffer.", lower_bound=1)
    flags.DEFINE_integer("log_frequency", 10, "Steps between log lines and summaries.",
                         lower_bound=1)
    flags.DEFINE_integer("save_checkpoint_steps", 1000, "Steps between checkpoints.",
                         lower_bound=1)
    flags.DEFINE_integer("max_checkpoints_to_keep", 5, "Checkpoints kept in --train_dir.",
                         lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed for initialization, shuffling and augmentation.")
    flags.DEFINE_boolean("deterministic", False,
                         "Turn on TensorFlow's op determinism: the same --seed gives the same "
                         "losses and weights, also across an interrupted and resumed run "
                         "(slower on GPU).")
    flags.DEFINE_enum("nan_policy", "stop", list(loss_watch.NAN_POLICIES),
                      "On a non-finite loss or gradient: stop (keep the last checkpoint, exit "
                      "non-zero) or skip_batch (skip the update; stop after "
                      f"{loss_watch.MAX_SKIPPED_IN_A_ROW} in a row).")
    flags.DEFINE_float("lr_warmup_fraction", schedules.WARMUP_FRACTION,
                       "--lr_schedule=warmup_linear: fraction of the steps spent rising from "
                       "--lr_start_factor x the learning rate to 1x (then falling linearly to "
                       "--lr_end_factor x at the last step).")
    flags.DEFINE_float("lr_start_factor", schedules.WARMUP_START_FACTOR,
                       "--lr_schedule=warmup_linear: the learning rate factor at step 0.")
    flags.DEFINE_float("lr_end_factor", schedules.END_FACTOR,
                       "--lr_schedule=warmup_linear: the learning rate factor at the last step.")
    flags.DEFINE_boolean("decoupled_hyperparameters", False,
                         "Read --learning_rate and --weight_decay in the decoupled form of SGD "
                         "with momentum (airbench, Myrtle): per 1,024 examples, independent of "
                         "--momentum and of each other (optim.from_decoupled converts them).")
    flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing of the cross-entropy: the true "
                       "class's target is 1 - s + s/K, the others' s/K.", lower_bound=0.0)
    flags.DEFINE_string("variable_groups", "",
                        "Per-variable settings, 'PATTERN:key=value,...;PATTERN:...' with keys "
                        "lr_scale (learning-rate multiplier; the decay's shrink is unchanged), "
                        "decay_scale (multiplier of that shrink) and train_epochs (frozen after), "
                        "PATTERN a regular expression searched in the variable names, e.g. "
                        "'beta:lr_scale=64;whiten.*bias:train_epochs=3'.")
    flags.DEFINE_integer("lookahead_every", 0,
                         "Lookahead averaging every N steps (0: off): the weights and BatchNorm "
                         "statistics move to an average with decay --lookahead_base ** N x "
                         "(step / steps) ** --lookahead_power, written back into the model; at "
                         "the end the model takes the average.", lower_bound=0)
    flags.DEFINE_float("lookahead_base", 0.95, "Per-step decay base of --lookahead_every.")
    flags.DEFINE_float("lookahead_power", 3.0, "Warm-up exponent of --lookahead_every's decay.")
    flags.DEFINE_float("lookahead_start_epoch", 0.0, "No lookahead averaging before this epoch.",
                       lower_bound=0.0)
    flags.DEFINE_boolean("eval_at_end", False,
                         "At the end, evaluate the test split (with --tta) and print precision "
                         "@ 1 with the wall time from process start split into start-up, data, "
                         "initialisation, training and evaluation: time to accuracy.")
    flags.DEFINE_boolean("eval_every_epoch", False,
                         "Evaluate the test split after each epoch (not counted in the time to "
                         "accuracy) and write it to TensorBoard (train_dir/eval, precision_at_1).")
    define_tta_flag()
    flags.DEFINE_float("max_loss", None,
                       "A finite loss above this means the run diverged: a warning, and with "
                       "--nan_policy=stop a stop that keeps the last checkpoint (default: "
                       f"{train_config.DIVERGENCE_FACTOR:g} x ln(number of classes), that many times "
                       "the loss of a uniform guess).")
    define_restore_flags()


def define_tta_flag() -> None:
    """--tta, for the mains that evaluate."""
    if _defined("tta"):
        return
    flags.DEFINE_enum("tta", "none", list(tta.TTA_MODES),
                      "Test-time augmentation: none; flip (the mean of the logits of the image "
                      "and its mirror); flip_translate (half that, half the mean of the same for "
                      "the image translated by one pixel up-left and down-right, reflect-padded).")


def define_restore_flags() -> None:
    """--restore_fallback, for every main that restores a checkpoint."""
    if _defined("restore_fallback"):
        return
    flags.DEFINE_boolean("restore_fallback", True,
                         "When the newest checkpoint is damaged (truncated or missing data file, "
                         "corrupt index), skip it with a line, move its files to "
                         "<train_dir>/corrupt/ and restore the newest older one that reads; "
                         "--norestore_fallback stops with an error instead.")


def define_eval_flags() -> None:
    define_data_flags()
    define_restore_flags()
    define_tta_flag()
    if _defined("checkpoint_dir"):
        return
    flags.DEFINE_string("checkpoint_dir", "/tmp/cifar10_train",
                        "Training directory whose latest checkpoint is evaluated.")
    flags.DEFINE_string("eval_dir", "/tmp/cifar10_eval", "Directory for TensorBoard events.")
    flags.DEFINE_enum("eval_data", "test", ["test", "train"], "Split to evaluate.")
    flags.DEFINE_integer("top_k", 1, "Count a prediction correct when the true class is among "
                         "the k highest logits.", lower_bound=1)
    flags.DEFINE_integer("num_examples", None, "Evaluate only the first N examples of the split "
                         "(default: all of them, each counted once).", lower_bound=1)
    flags.DEFINE_boolean("use_ema", True, "Evaluate the moving averages of the weights "
                         "(--nouse_ema or --use_ema=false for the raw weights).")
    flags.DEFINE_enum("model", None, sorted(models.MODELS),
                      "Model of the checkpoint (default: read from the checkpoint's run.json).")
    flags.DEFINE_boolean("run_once", False, "Evaluate the latest checkpoint once and exit.")
    flags.DEFINE_integer("eval_interval_secs", 300,
                         "Seconds between looks for a new checkpoint.", lower_bound=0)


def define_inference_flags() -> None:
    """The checkpoint to load and what to take from it, for predict and export."""
    define_restore_flags()
    if _defined("checkpoint"):
        return
    flags.DEFINE_string("checkpoint_dir", "/tmp/cifar10_train",
                        "Training directory (run.json and checkpoints) to predict with or export.")
    flags.DEFINE_string("checkpoint", None, "A checkpoint prefix such as DIR/ckpt-2000 "
                        "(default: the latest in --checkpoint_dir).")
    flags.DEFINE_integer("top_k", 5, "Classes per image, most probable first: listed by "
                         "predict, returned by the export's serving signature.", lower_bound=1)
    flags.DEFINE_boolean("use_ema", True, "Use the moving averages of the weights "
                         "(--nouse_ema: the raw weights).")


def config_from_flags(config_class):
    """Fills a config dataclass from the parsed flags of the same names."""
    values = {field.name: FLAGS[field.name].value
              for field in dataclasses.fields(config_class) if field.name in FLAGS}
    return config_class(**values)


def flag_file(config_class) -> str:
    """The flag file of the parsed flags that fill `config_class` (one `--name=value` a
    line, every one given or with a default; None ones are left out): `--flagfile` of it
    reruns the command."""
    lines = [FLAGS[field.name].serialize() for field in dataclasses.fields(config_class)
             if field.name in FLAGS]
    return "".join(line + "\n" for line in lines if line)
