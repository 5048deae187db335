"""What the mains share: run an absl main, turning user errors into one clear line."""

import sys

from absl import app, flags, logging

from convnet.errors import ConvnetError


def run_main(main) -> None:
    """`app.run(main)`; a ConvnetError or ValueError prints `error: ...` and exits 1."""

    def guarded(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the log
        try:
            main()
        except (ConvnetError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            sys.exit(1)

    app.run(guarded)
