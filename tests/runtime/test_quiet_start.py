"""convnet.runtime.quiet_start: the mains leave TensorFlow's start-up lines out of stderr, and only
them."""

import importlib
import os
import re
import select
import subprocess
import sys
import threading

import pytest

from convnet.runtime import converter_output, quiet_start
from convnet.runtime.quiet_start import StartupLineFilter

from helpers import REPO

# As TensorFlow 2.21 prints them on a machine without a GPU (the oneDNN line, from 2.16-2.20).
STARTUP = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1796157274.328496   23862 cudart_stub.cc:31] Could not find cuda drivers on "
    b"your machine, GPU will not be used.",
    b"I0000 00:00:1796157274.453431   23862 cpu_feature_guard.cc:227] This TensorFlow binary is "
    b"optimized to use available CPU instructions in performance-critical operations.",
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    b"with the appropriate compiler flags.",
    b"E0000 00:00:1796157282.338139   23862 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    b"CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    b"2024-03-01 10:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations "
    b"are on. You may see slightly different numerical results due to floating-point round-off "
    b"errors from different computation orders. To turn them off, set the environment variable "
    b"`TF_ENABLE_ONEDNN_OPTS=0`.",
    b"I0000 00:00:1796157274.1   1 port.cc:153] oneDNN custom operations are on. You may see ...",
    # XLA's first compiled call on the CPU (TensorFlow 2.21).
    b"I0000 00:00:1796314439.606169   16828 service.cc:153] XLA service 0x7fb64c05ed90 initialized "
    b"for platform Host (this does not guarantee that XLA will be used). Devices:",
    b"I0000 00:00:1796314439.606212   16828 service.cc:161]   StreamExecutor [0]: Host, Default "
    b"Version (Driver: 0.0.0; Runtime: 0.0.0; Toolkit: 0.0.0; DNN: 0.0.0)",
    b"I0000 00:00:1796314439.672512   16828 device_compiler.h:208] Compiled cluster using XLA!  "
    b"This line is logged at most once for the lifetime of the process.",
    b"I0000 00:00:1796314442.499694   16827 dump_mlir_util.cc:269] disabling MLIR crash "
    b"reproducer, set env var `MLIR_CRASH_REPRODUCER_DIRECTORY` to enable.",
]
REAL = [
    b"error: CIFAR-10 data not found in /nowhere",
    b"Traceback (most recent call last):",
    b"E0000 00:00:1796157282.338139   23862 op_kernel.cc:1857] OP_REQUIRES failed at "
    b"conv_ops.cc:42 : INVALID_ARGUMENT: input must be 4-dimensional",
    b"W0000 00:00:1796157282.338139   23862 some_file.cc:1] This TensorFlow binary is odd",
    b"I0000 00:00:1796157282.1   1 gpu_device.cc:2020] Created device /job:localhost/replica:0/"
    b"task:0/device:GPU:0 with 139000 MB memory",
    b"I0000 00:00:1796157282.1   1 service.cc:153] XLA service 0x55d0c0 initialized for platform "
    b"CUDA (this does not guarantee that XLA will be used). Devices:",
    b"I0000 00:00:1796157282.1   1 service.cc:161]   StreamExecutor device (0): NVIDIA H200, "
    b"Compute Capability 9.0",
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    b"with the appropriate compiler flags.",  # not after the cpu_feature_guard line: kept
    b"step 10, loss = 2.07",
]
# Words of the start-up lines, to look for in a main's whole stderr.
STARTUP_WORDS = ("absl::InitializeLog", "Could not find cuda drivers", "cuInit",
                 "optimized to use available CPU instructions", "To enable the following",
                 "oneDNN custom operations")


def _kept(lines, line_filter=None):
    line_filter = line_filter or StartupLineFilter()
    return [line for line in lines if not line_filter.drops(line)]


def test_the_start_up_lines_are_dropped_and_nothing_else():
    assert _kept(STARTUP) == []
    assert _kept(REAL) == REAL
    assert _kept(STARTUP[1:] + REAL) == REAL
    assert _kept([line + b"\r" for line in STARTUP[:3]]) == []


def test_a_failed_cuinit_shows_where_a_cuda_driver_is_installed():
    cuinit = STARTUP[4]
    assert _kept([cuinit]) == [cuinit]  # no "Could not find cuda drivers" first: a real error
    assert _kept([STARTUP[1], b"step 1", cuinit]) == [b"step 1"]
    assert _kept([cuinit], StartupLineFilter(gpus_hidden=True)) == []


def _pump(chunks):
    """What `pump` passes on when `chunks` are written to it, one write each (with no
    quiet moment long enough to pass a line's beginning on before its end, however slow
    the machine: 60 s)."""
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    thread = threading.Thread(target=quiet_start.pump,
                              args=(read_in, write_out, StartupLineFilter()),
                              kwargs={"partial_after": 60.0})
    thread.start()
    for chunk in chunks:
        os.write(write_in, chunk)
    os.close(write_in)
    thread.join(timeout=10)
    os.close(write_out)
    with os.fdopen(read_out, "rb") as out:
        data = out.read()
    os.close(read_in)
    return data


def test_pump_judges_whole_lines_and_passes_everything_else_unchanged():
    stream = b"\n".join(STARTUP + REAL) + b"\n" + b"no newline at the end"
    expected = b"\n".join(REAL) + b"\n" + b"no newline at the end"
    assert _pump([stream]) == expected
    # Written a few bytes at a time, start-up lines split across writes are still judged whole.
    assert _pump([stream[i:i + 7] for i in range(0, len(stream), 7)]) == expected


def test_pump_passes_a_line_beginning_on_after_a_quiet_moment():
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    thread = threading.Thread(target=quiet_start.pump,
                              args=(read_in, write_out, StartupLineFilter()),
                              kwargs={"partial_after": 0.05})
    thread.start()
    os.write(write_in, b"Continue? ")  # a prompt: no newline, and nothing after it for a while
    assert select.select([read_out], [], [], 10)[0], "the prompt was held back"
    assert os.read(read_out, 100) == b"Continue? "
    # The rest of its line passes unjudged; the next line is judged again.
    os.write(write_in, STARTUP[1] + b"\n" + STARTUP[1] + b"\nok\n")
    os.close(write_in)
    thread.join(timeout=10)
    os.close(write_out)
    with os.fdopen(read_out, "rb") as out:
        assert out.read() == STARTUP[1] + b"\nok\n"
    os.close(read_in)


@pytest.mark.parametrize("args, environ, filtered", [
    ([], {}, True),
    (["--max_steps=5"], {"CUDA_VISIBLE_DEVICES": ""}, True),
    ([], {"CONVNET_TF_LOGS": "1"}, False),
    ([], {"TF_CPP_MIN_LOG_LEVEL": "2"}, True),  # a TF variable never makes it noisier
    ([], {"TF_CPP_MAX_VLOG_LEVEL": "1", "TF_CPP_VMODULE": "x=1"}, True),
    ([], {"TF_CPP_MIN_LOG_LEVEL": "2", "CONVNET_TF_LOGS": "0"}, True),
    (["--verbosity=0"], {}, False),
    (["-v", "1"], {}, False),
    (["--v=2"], {}, False),
    (["--verbosity", "-1"], {}, True),  # fewer messages than INFO: still quiet
    (["--", "-v", "1"], {}, True),
])
def test_the_user_asks_for_the_lines_with_a_flag_or_a_variable(args, environ, filtered):
    assert quiet_start.wanted(args, environ) is filtered


def test_only_a_main_is_quiet_started():
    for name in quiet_start.MAINS:
        assert quiet_start.started_as_main(os.path.join(REPO, "convnet", f"{name}.py"))
        assert quiet_start.started_as_main(f"/usr/local/bin/convnet-{name}")
    for argv0 in ("/usr/bin/pytest", "-c", "", os.path.join(REPO, "convnet", "training.py")):
        assert not quiet_start.started_as_main(argv0)
    # A library user importing a main (as this test process did) keeps its stderr.
    importlib.import_module("convnet.train")
    assert quiet_start._installed is None  # pylint: disable=protected-access


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL", "TF_CPP_VMODULE",
                        quiet_start.ENV)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, env.get("PYTHONPATH")) if p)
    return {**env, **extra}


def _python(code, **extra_env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO,
                          env=_env(**extra_env), timeout=60)


_WRITES = "; ".join(f"os.write(2, {line!r} + b'\\n')" for line in STARTUP + REAL[:3])


def test_installed_filter_keeps_real_errors_and_tracebacks_to_the_end():
    done = _python("import os, sys\nfrom convnet.runtime import quiet_start\n"
                   "assert quiet_start.install()\n" + _WRITES + "\n"
                   "print('to stderr', file=sys.stderr)\nraise SystemExit('bye')")
    assert done.returncode == 1
    assert done.stderr.splitlines() == REAL[:3] + [b"to stderr", b"bye"]


# TensorFlow's C++ lines of each level (none of them a start-up line), and Python's absl line.
LEVEL_LINES = {
    "I": b"I0000 00:00:1796157282.1   1 gpu_device.cc:2020] Created device GPU:0",
    "W": b"W0000 00:00:1796157282.1   1 op_kernel.cc:1857] OP_REQUIRES failed at save_restore_v2",
    "E": b"E0000 00:00:1796157282.1   1 conv_ops.cc:42] INVALID_ARGUMENT: input must be 4-D",
    "F": b"F0000 00:00:1796157282.1   1 logging.cc:1] Check failed: x",
    "old W": b"2024-03-01 10:00:00.123456: W tensorflow/core/framework/x.cc:113] warned",
    "python W": b"W1202 16:35:48.025633 140211 checkpoint.py:1473] a Python warning",
}
# TF_CPP_MIN_LOG_LEVEL -> which of them show (TensorFlow's documented meaning of the levels).
LEVEL_TABLE = {None: {"I", "W", "E", "F", "old W", "python W"},
               "0": {"I", "W", "E", "F", "old W", "python W"},
               "1": {"W", "E", "F", "old W", "python W"},
               "2": {"E", "F", "python W"},
               "3": {"F", "python W"}}


@pytest.mark.parametrize("level", sorted(LEVEL_TABLE, key=str))
def test_tf_cpp_min_log_level_hides_the_start_up_lines_and_the_levels_below_it(level):
    writes = "; ".join(f"os.write(2, {line!r} + b'\\n')"
                       for line in STARTUP + list(LEVEL_LINES.values()))
    done = _python(INSTALLED + writes, **({} if level is None else {"TF_CPP_MIN_LOG_LEVEL": level}))
    assert done.returncode == 0, done.stderr
    shown = {name for name, line in LEVEL_LINES.items() if line in done.stderr.splitlines()}
    assert shown == LEVEL_TABLE[level]
    assert done.stderr.splitlines() == [line for name, line in LEVEL_LINES.items()
                                        if name in shown]  # no start-up line at any level


INSTALLED = "import os\nfrom convnet.runtime import quiet_start\nassert quiet_start.install()\n"


def test_a_crash_still_passes_on_the_last_lines():
    done = _python(INSTALLED + _WRITES + "\nos.write(2, b'F0000 last words\\n')\nos.abort()")
    assert done.returncode < 0  # SIGABRT
    assert done.stderr.splitlines() == REAL[:3] + [b"F0000 last words"]


def _main(*args, **extra_env):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=REPO, env=_env(**extra_env), timeout=300)


def _startup_lines(stderr):
    return [line for line in stderr.splitlines() if any(w in line for w in STARTUP_WORDS)]


@pytest.mark.slow
def test_a_main_starts_quietly_unless_asked_and_shows_errors(tmp_path):
    loud = _main("convnet.summary", "--model=baseline", CONVNET_TF_LOGS="1")
    assert loud.returncode == 0, loud.stderr
    # A TensorFlow logging variable never brings them back (every level of the filter against
    # a real filter process: test_tf_cpp_min_log_level_hides_the_start_up_lines_...).
    for level in (None, "2"):
        quiet = _main("convnet.summary", "--model=baseline",
                      **({} if level is None else {"TF_CPP_MIN_LOG_LEVEL": level}))
        assert quiet.returncode == 0, quiet.stderr
        assert "Total params: " in quiet.stdout
        assert _startup_lines(quiet.stderr) == [], (level, quiet.stderr)
    if not _startup_lines(loud.stderr):
        pytest.skip("TensorFlow printed none of the start-up lines on this machine")
    failed = _main("convnet.train", f"--data_dir={tmp_path / 'none'}", "--nodownload",
                   f"--train_dir={tmp_path / 'train'}")
    assert failed.returncode == 1
    assert re.search(r"^error: CIFAR-10 data not found", failed.stderr, re.M), failed.stderr
    assert _startup_lines(failed.stderr) == [], failed.stderr


# As TensorFlow 2.21's TFLite converter and tf2onnx print them on success.
CONVERTER_NOISE = [
    b"W0000 00:00:1796173676.803963   24305 tf_tfl_flatbuffer_helpers.cc:364] Ignored "
    b"output_format.",
    b"W0000 00:00:1796173676.804011   24305 tf_tfl_flatbuffer_helpers.cc:367] Ignored "
    b"drop_control_dependency.",
    b"I0000 00:00:1796173676.804446   24305 reader.cc:83] Reading SavedModel from: /tmp/tmpv3c9",
    b"I0000 00:00:1796173676.965237   24305 loader.cc:471] SavedModel load for tags { serve }; "
    b"Status: success: OK. Took 160810 microseconds.",
    b"I0000 00:00:1796173668.185894   24267 single_machine.cc:376] Starting new session",
    b"2024-03-01 10:00:00.123456: I tensorflow/core/grappler/devices.cc:66] Number of eligible "
    b"GPUs (core count >= 8, compute capability >= 0.0): 0",
]
CONVERTER_REAL = [
    b"W0000 00:00:1796173676.8   1 flatbuffer_export.cc:1] TFLite interpreter needs to link "
    b"Flex delegate in order to run the model since it contains the following Select TFop(s):",
    b"E0000 00:00:1796173676.8   1 convert.cc:9] 'tf.Foo' op is neither a custom op nor a flex op",
    b"Ignored output_format.",  # not TensorFlow's log line
    b"WARNING:tf2onnx.tfonnx:Failed to convert node 'Foo'",
]


def test_converter_noise_is_info_lines_and_two_known_warnings():
    for line in CONVERTER_NOISE:
        assert converter_output.NOISE.match(line), line
    for line in CONVERTER_REAL + REAL[:3]:
        assert not converter_output.NOISE.match(line), line


def _write_lines(lines):
    os.write(2, b"".join(line + b"\n" for line in lines))


def test_held_converter_lines_pass_on_less_the_noise_after_a_success(monkeypatch, capfd):
    monkeypatch.setattr(quiet_start, "_installed", object())  # as in a main
    with converter_output.held():
        _write_lines(CONVERTER_NOISE[:3] + CONVERTER_REAL + CONVERTER_NOISE[3:])
    err = capfd.readouterr().err
    assert err.encode() == b"".join(line + b"\n" for line in CONVERTER_REAL)


def test_held_converter_lines_pass_on_whole_after_a_failure(monkeypatch, capfd):
    monkeypatch.setattr(quiet_start, "_installed", object())
    with pytest.raises(ValueError, match="conversion failed"):
        with converter_output.held():
            _write_lines(CONVERTER_NOISE + CONVERTER_REAL)
            raise ValueError("conversion failed")
    err = capfd.readouterr().err
    assert err.encode() == b"".join(line + b"\n" for line in CONVERTER_NOISE + CONVERTER_REAL)
    os.write(2, b"after\n")  # stderr is itself again
    assert capfd.readouterr().err == "after\n"


def test_without_the_filter_nothing_is_held(capfd):
    assert not quiet_start.installed()  # the tests are not a main
    with converter_output.held():
        _write_lines(CONVERTER_NOISE[:1])
        assert capfd.readouterr().err.encode() == CONVERTER_NOISE[0] + b"\n"
