"""A quiet start for the mains: TensorFlow's start-up lines are left out of stderr.

On a machine without a GPU, `import tensorflow`, the first use of a device and of
XLA print lines such as `Could not find cuda drivers on your machine, GPU will not
be used.`, `This TensorFlow binary is optimized to use available CPU
instructions ...` and `E0000 ... failed call to cuInit: ... UNKNOWN ERROR
(303)`. TF_CPP_MIN_LOG_LEVEL cannot hide them alone: 2 keeps the E-level cuInit
line (and absl prints some lines whatever it says), 3 hides real C++ errors too.

So, when a main is run (`python -m convnet.train`, the `convnet-train` script,
...; each main imports this module first, before TensorFlow), this module
points the process's stderr (file descriptor 2, which C++ and Python write to
alike) at a pipe read by a small filter process (this file run as a script).
The filter drops the lines `drops` recognises (STARTUP_LINES, a fixed list)
and passes every other byte through unchanged: tracebacks, `error: ...` lines,
other TensorFlow messages, C++ errors. Being its own process, it outlives a
crash (abort, os._exit, SIGKILL) of the main and still passes on its last
words; at a normal exit the main restores stderr and waits for it. Subprocesses
the main starts inherit the filtered stderr.

A main's converters (TFLite, ONNX) hold their own noise back the same way
(convnet.runtime.converter_output).

Nothing is filtered (the start-up lines show) when the user asks for them:
`CONVNET_TF_LOGS=1`, or `--verbosity=N` / `-v N` with N >= 0 on the command
line. `CONVNET_TF_LOGS=0` filters whatever else is set. A TensorFlow logging
variable makes the output quieter, never noisier: with TF_CPP_MIN_LOG_LEVEL
(TF_CPP_MAX_VLOG_LEVEL, TF_CPP_VMODULE) set, the start-up lines stay hidden (TF
prints some of them whatever the level), and the level also hides TensorFlow's
other C++ log lines below it, as TensorFlow documents it (1: INFO; 2: also
WARNING; 3: also ERROR; see LEVEL_HIDES). Library code (`import convnet`,
tests) never has its stderr rewired: only a process started as one of MAINS.

This file must import only the standard library: the filter process runs it
with `python -I -S`, without convnet on its path.
"""

import atexit
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

ENV = "CONVNET_TF_LOGS"
MAINS = ("train", "eval", "bench", "predict", "export", "report", "compare", "summary")
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
# The C++ log levels each TF_CPP_MIN_LOG_LEVEL hides (TensorFlow's documented meaning).
LEVEL_HIDES = {0: b"", 1: b"I", 2: b"IW", 3: b"IWE"}

# TensorFlow's C++ log prefix: absl's `I0000 00:00:1796157274.328496   23862 file.cc:31] `
# (TF >= 2.16), or the older `2024-01-15 10:00:00.123456: I tensorflow/.../file.cc:113] `.
def log_prefix(levels: bytes) -> bytes:
    """The pattern of that prefix for the log levels `levels` (e.g. b"IWE")."""
    return (rb"(?:[" + levels + rb"]\d{4} \S+\s+\d+ |\d{4}-\d\d-\d\d [\d:.]+: [" + levels
            + rb"] )\S+:\d+\] ")


_PREFIX = log_prefix(b"IWE")
_NO_DRIVER = rb"Could not find cuda drivers on your machine, GPU will not be used\."
_CPU_GUARD = rb"This TensorFlow binary is optimized to use available CPU instructions"
# (name, pattern of the whole line): the start-up lines dropped.
STARTUP_LINES = (
    ("absl_before_init",
     rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
     rb"STDERR"),
    ("onednn", _PREFIX + rb"oneDNN custom operations are on\b.*"),
    ("no_cuda_driver", _PREFIX + _NO_DRIVER),
    ("cpu_guard", _PREFIX + _CPU_GUARD + rb".*"),
    # cpu_guard's second line (its message holds a newline); dropped only right after it.
    ("cpu_guard_instructions",
     rb"To enable the following instructions: .*rebuild TensorFlow with the appropriate "
     rb"compiler flags\."),
    # Dropped only after no_cuda_driver (no CUDA driver installed: a CPU-only machine) or
    # when the GPUs are hidden (CUDA_VISIBLE_DEVICES="" or -1). On a machine with a driver,
    # a failing cuInit is a real error and shows.
    ("cuinit", _PREFIX + rb"failed call to cuInit: .*"),
    # GPU builds of TF 2.16-2.17, at import: harmless duplicate registrations.
    ("cuda_factories", _PREFIX + rb"Unable to register cu(?:DNN|FFT|BLAS) factory: Attempting to "
                                 rb"register factory for plugin cu\w+ when one has already been "
                                 rb"registered"),
    ("computation_placer", _PREFIX + rb"computation placer already registered\..*"),
    ("tensorrt", _PREFIX + rb"TF-TRT Warning: Could not find TensorRT"),
    # The first XLA-compiled call on a CPU (ops.gelu while training, --xla): XLA's own start-up.
    # Its CUDA lines (the GPU's name) show.
    ("xla_service", _PREFIX + rb"XLA service 0x[0-9a-f]+ initialized for platform Host \(this "
                              rb"does not guarantee that XLA will be used\)\. Devices:"),
    ("xla_host_executor", _PREFIX + rb"\s*StreamExecutor \[\d+\]: Host, Default Version.*"),
    ("xla_compiled", _PREFIX + rb"Compiled cluster using XLA!  This line is logged at most once "
                               rb"for the lifetime of the process\."),
    ("mlir_crash_reproducer", _PREFIX + rb"disabling MLIR crash reproducer, set env var "
                                        rb"`MLIR_CRASH_REPRODUCER_DIRECTORY` to enable\."),
)
_LINES = tuple((name, re.compile(pattern + rb"\r?$")) for name, pattern in STARTUP_LINES)

def _cpp_line(levels: bytes):
    """TensorFlow's C++ log lines (not Python's absl lines, from a .py file) of `levels`."""
    return re.compile(log_prefix(levels).replace(rb"\S+:\d+\] ", rb"\S+(?<!\.py):\d+\] "))


class StartupLineFilter:
    """Decides line by line (bytes, without the newline) what is dropped: the start-up lines,
    and TensorFlow's C++ log lines below `min_level` (a TF_CPP_MIN_LOG_LEVEL, LEVEL_HIDES)."""

    def __init__(self, gpus_hidden: bool = False, min_level: int = 0):
        self._no_driver = gpus_hidden
        self._previous = None  # the name of the line just dropped
        hidden = LEVEL_HIDES[max(0, min(3, min_level))]
        self._below_level = _cpp_line(hidden) if hidden else None

    def drops(self, line: bytes) -> bool:
        name = next((n for n, pattern in _LINES if pattern.match(line)), None)
        if name is None and self._below_level is not None and self._below_level.match(line):
            name = "below_level"
        if name == "cpu_guard_instructions" and self._previous != "cpu_guard":
            name = None
        if name == "cuinit" and not self._no_driver:
            name = None
        if name == "no_cuda_driver":
            self._no_driver = True
        self._previous = name
        return name is not None


def pump(read_fd: int, write_fd: int, line_filter: StartupLineFilter,
         *, partial_after: float = 0.05) -> None:
    """Copies `read_fd` to `write_fd` until end of file, less the lines `line_filter` drops.

    A line's beginning waits for the rest of it (so that the whole line can be judged),
    for at most `partial_after` seconds of quiet: a prompt or a progress line without
    its newline yet is passed on then, and the rest of that line after it, unjudged.
    """
    pending, passed_beginning = b"", False

    def write(data: bytes) -> None:
        while data:
            try:
                data = data[os.write(write_fd, data):]
            except InterruptedError:
                continue
            except OSError:  # stderr closed (a pipe whose reader left): drain, dropping
                return

    while True:
        if pending and not select.select([read_fd], [], [], partial_after)[0]:
            write(pending)
            pending, passed_beginning = b"", True
            continue
        try:
            data = os.read(read_fd, 65536)
        except InterruptedError:
            continue
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        kept = []
        for line in lines:
            if passed_beginning or not line_filter.drops(line):
                kept.append(line + b"\n")
            passed_beginning = False
        write(b"".join(kept))
    if pending and (passed_beginning or not line_filter.drops(pending)):
        write(pending)


def started_as_main(argv0: str | None = None) -> bool:
    """Whether this process is one of MAINS: `python -m convnet.X` (runpy has set
    sys.argv[0] to convnet/X.py by the time X imports this), `python convnet/X.py`, or
    the `convnet-X` console script."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if not argv0:
        return False
    if os.path.basename(argv0) in {f"convnet-{name}" for name in MAINS}:
        return True
    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # convnet/
    return os.path.realpath(argv0) in {os.path.join(package, f"{name}.py") for name in MAINS}


def _verbosity_asked(args: Sequence[str]) -> bool:
    """`--verbosity=N`, `--verbosity N`, `-v N`, `-v=N`, `--v N` with N >= 0 (absl's INFO or
    more: more than the mains' default WARNING); a value that is not a number counts."""
    args = iter(args)
    for arg in args:
        if arg == "--":
            return False
        name, equals, value = arg.partition("=")
        if name in ("--verbosity", "-verbosity", "--v", "-v"):
            value = value if equals else next(args, "")
            try:
                return int(value) >= 0
            except ValueError:
                return True
    return False


def wanted(args: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether to filter: not when the user asked for TensorFlow's lines (module docstring)."""
    choice = environ.get(ENV, "").strip().lower()
    if choice in ("1", "true", "yes", "on"):
        return False
    if choice in ("0", "false", "no", "off"):
        return True
    return not _verbosity_asked(args)


def min_level(environ: Mapping[str, str]) -> int:
    """TF_CPP_MIN_LOG_LEVEL as TensorFlow reads it: 0 to 3 (0 when unset or not a number)."""
    try:
        return max(0, min(3, int(environ.get(LEVEL_ENV, "0").strip() or 0)))
    except ValueError:
        return 0


_installed = None  # (filter process, a descriptor of the original stderr) while installed


def install() -> bool:
    """Points fd 2 at the filter (once; POSIX only). False when it is not installed."""
    global _installed  # pylint: disable=global-statement
    if _installed is not None or os.name != "posix" or not sys.executable:
        return False
    gpus_hidden = os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1")
    level = min_level(os.environ)
    original = read_fd = write_fd = None
    try:
        sys.stderr.flush()
        original = os.dup(2)
        read_fd, write_fd = os.pipe()
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.realpath(__file__), "--filter",
             f"--min_level={level}"] + (["--gpus_hidden"] if gpus_hidden else []),
            stdin=read_fd, stdout=original, stderr=original, close_fds=True)
        os.dup2(write_fd, 2)
    except (AttributeError, OSError, ValueError, subprocess.SubprocessError):
        for fd in (original, write_fd):
            if fd is not None:
                os.close(fd)
        return False  # a quiet start is a courtesy: never a reason not to run
    finally:
        if read_fd is not None:
            os.close(read_fd)
    os.close(write_fd)
    _installed = (process, original)
    atexit.register(uninstall)
    return True


def uninstall(timeout: float = 3.0) -> None:
    """Points fd 2 back at the original stderr and waits (up to `timeout` seconds) for the
    filter to pass on what it holds. Runs at exit (registered first, so it runs last)."""
    global _installed  # pylint: disable=global-statement
    if _installed is None:
        return
    process, original = _installed
    _installed = None
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os.dup2(original, 2)  # this process's last end of the pipe: the filter reads end of file
    os.close(original)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:  # a child of this process still holds the pipe
        pass


def installed() -> bool:
    """Whether this process's stderr goes through the filter (a main, lines not asked for)."""
    return _installed is not None


def _install_for_a_main() -> None:
    if started_as_main() and wanted(sys.argv[1:], os.environ):
        install()


if __name__ == "__main__":  # the filter process: stdin -> stdout, less the start-up lines
    for _signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(_signal, signal.SIG_IGN)  # it ends when the main's stderr closes
    _level = next((int(arg.split("=", 1)[1]) for arg in sys.argv if arg.startswith("--min_level=")),
                  0)
    pump(0, 1, StartupLineFilter(gpus_hidden="--gpus_hidden" in sys.argv, min_level=_level))
    os._exit(0)  # pylint: disable=protected-access
else:
    _install_for_a_main()
