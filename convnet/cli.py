"""What the mains share: run an absl main, turning user errors into one clear line."""

import signal
import sys

from absl import app, flags, logging

from convnet import closed_stdout, options, recipes
from convnet.errors import ConvnetError


def run_main(main, takes_args: bool = False) -> None:
    """`app.run(main)`; a ConvnetError or ValueError prints `error: ...` and exits 1.

    Ctrl-C (KeyboardInterrupt, e.g. while evaluation waits for checkpoints)
    prints `interrupted` and exits 130, without a traceback. (Training handles
    SIGINT itself: convnet.interrupts.)

    With `takes_args`, `main` receives the positional arguments (argv[1:]);
    otherwise positional arguments are a usage error.
    """

    # --help lists the main module's key flags: the config flags (defined by convnet.options).
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
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr, flush=True)
            sys.exit(128 + signal.SIGINT)

    def parse(argv):  # --recipe=NAME reads as --flagfile=<the recipe's file> (convnet.recipes)
        return app.parse_flags_with_usage(recipes.expand(argv) if "recipe" in flags.FLAGS
                                          else argv)

    app.run(guarded, flags_parser=parse)
