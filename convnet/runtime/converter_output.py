"""What TensorFlow's converters (TFLite, ONNX) print, held back in a main and passed on after.

During a conversion, what reaches stderr (file descriptor 2) is held in a temporary file and
passed on after: less NOISE (TensorFlow's C++ INFO lines: SavedModel reader and loader,
grappler, MLIR; the TFLite converter's warnings about flags it sets itself) when the
conversion succeeded, and whole when it failed (the lines then help explain the failure).
Only in a quiet-started main (convnet.runtime.quiet_start): library users and users who
asked for TensorFlow's lines see them as they come.
"""

import contextlib
import os
import re
import sys
import tempfile

from convnet.runtime import quiet_start

# What a converter prints that says nothing once it has succeeded: any C++ INFO line, and
# the TFLite converter's two warnings about flags that TensorFlow's own Python sets.
NOISE = re.compile(
    rb"(?:" + quiet_start.log_prefix(b"I") + rb".*"
    rb"|" + quiet_start.log_prefix(b"IWE")
    + rb"Ignored (?:output_format|drop_control_dependency)\.)\r?$")


@contextlib.contextmanager
def held():
    """Holds back what reaches stderr (fd 2) during the block, and passes it on after:
    less the NOISE lines when the block succeeded, whole when it raised (the converter's
    lines then help explain the failure). Does nothing unless `quiet_start.installed()`:
    library users and users who asked for TensorFlow's lines see them as they come."""
    if not quiet_start.installed():
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(2)
    succeeded = False
    with tempfile.TemporaryFile() as holding:
        os.dup2(holding.fileno(), 2)
        try:
            yield
            succeeded = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            holding.seek(0)
            lines = holding.read().splitlines(keepends=True)
            kept = b"".join(line for line in lines
                            if not (succeeded and NOISE.match(line.rstrip(b"\n"))))
            while kept:
                kept = kept[os.write(2, kept):]
