"""What the mains share: flags derived from config dataclasses, and an absl main that turns user
errors into one clear line.

A main is a function of its configs: `cli.run(main, TrainConfig)` defines the flags of every
`option` field of the config classes (convnet.runtime.options), parses the command line
(`--recipe=NAME` where the main takes recipes), builds each config from the flags and calls
`main(*configs)` (`main(*configs, args)` with `takes_args`).
"""

import os
import signal
import sys

from absl import app, flags, logging

from convnet import recipes
from convnet.runtime import closed_stdout, console, options, precision
from convnet.runtime.errors import ConvnetError, data_error_inside


def damaged_flag_file(argv) -> str | None:
    """What is wrong with the first `--flagfile=PATH` of `argv` that is not UTF-8 text (path,
    problem, what to do), or None. (A missing one is left to absl, which names it.)"""
    for arg in argv:
        if not arg.startswith("--flagfile="):
            continue
        path = arg.split("=", 1)[1]
        try:
            with open(path, "rb") as f:
                f.read().decode("utf-8")
        except OSError:
            continue
        except UnicodeDecodeError as e:
            shipped = os.path.dirname(os.path.abspath(path)) == recipes.DIRECTORY
            fix = ("it is a recipe shipped with convnet: reinstall convnet (pip install "
                   "--force-reinstall convnet) to restore it" if shipped else
                   "pass a flag file of --flag=value lines (a train_dir's flags.txt, or "
                   "--recipe=NAME)")
            return (f"flag file {path} is damaged (not text: byte {e.object[e.start]:#04x} at "
                    f"offset {e.start}): {fix}.")
    return None


def run_precision(value: str | None) -> str | None:
    """The precision a run given `--precision=value` (None: the flag's default) computes in,
    `auto` resolved for this machine; None without a --precision flag or for a bad value (the
    flag's check names it)."""
    if value is None:
        if "precision" not in flags.FLAGS:
            return None
        value = flags.FLAGS["precision"].default
    return precision.resolve(value) if value in precision.PRECISIONS else None


def run(main, *config_classes, takes_args: bool = False, takes_recipe: bool = False) -> None:
    """Defines the flags of `config_classes` (and --recipe), then `run_main` calls
    `main(*configs)` with each config filled from the parsed flags."""
    for config_class in config_classes:
        options.define_flags(config_class)
    if takes_recipe:
        recipes.define_recipe_flag()

    def with_configs(*args):
        configs = [options.from_flags(config_class) for config_class in config_classes]
        return main(*configs, *args)

    run_main(with_configs, takes_args=takes_args)


def run_main(main, takes_args: bool = False) -> None:
    """`app.run(main)`; a ConvnetError or ValueError prints `error: ...` and exits 1.

    Ctrl-C (KeyboardInterrupt, e.g. while evaluation waits for checkpoints)
    prints `interrupted` and exits 130, without a traceback. (Training handles
    SIGINT itself: convnet.training.interrupts.)

    With `takes_args`, `main` receives the positional arguments (argv[1:]);
    otherwise positional arguments are a usage error.
    """

    # --help lists the main module's key flags: the config flags (defined by
    # convnet.runtime.options).
    for flag in flags.FLAGS.get_key_flags_for_module(options.__name__):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)

    def guarded(argv):
        if len(argv) > 1 and not takes_args:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        closed_stdout.tolerate()  # `| head` or a dead `tee` does not end the run
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the log
        try:
            main(argv[1:]) if takes_args else main()
        except (ConvnetError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            sys.exit(1)
        except Exception as e:
            inside = data_error_inside(e)  # a file found bad while tf.data read it
            if inside is None:
                raise
            print(f"error: {inside}", file=sys.stderr, flush=True)
            sys.exit(1)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr, flush=True)
            sys.exit(128 + signal.SIGINT)

    def parse(argv):  # --recipe=NAME reads as --flagfile=<the recipe's file> (convnet.recipes)
        argv = recipes.expand(argv, run_precision) if "recipe" in flags.FLAGS else argv
        problem = damaged_flag_file(argv)
        if problem is None:
            try:
                parsed = app.parse_flags_with_usage(argv)
            except UnicodeDecodeError as e:  # a flag file named inside another flag file
                problem = f"a flag file it names is not text ({e.reason})"
            else:
                for line in filter(None, map(recipes.precision_file_line, argv)):
                    console.log(line)
                return parsed
        print(f"error: {problem}", file=sys.stderr, flush=True)
        sys.exit(1)

    app.run(guarded, flags_parser=parse)
