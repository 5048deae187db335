"""TensorFlow's oneDNN kernels on every x86 CPU, not only on those TensorFlow picks.

TensorFlow's x86-64 Linux builds carry oneDNN, but turn its kernels on by default only on CPUs
with AVX-512 VNNI, AVX-512 BF16 or AMX; on the others (an AVX2-only CPU) convolutions and
matmuls run on Eigen. PyTorch runs oneDNN on every x86 CPU. On a 2-core AVX2-only AMD EPYC
(docs/results/engine/README.md, round 4) oneDNN's float32 training step was 1.5-1.9x Eigen's
on the ResNets.

So `import convnet` sets TF_ENABLE_ONEDNN_OPTS=1 when it is unset and TensorFlow is not
imported yet (`prefer`): TensorFlow reads the variable once, when it is imported. Set
TF_ENABLE_ONEDNN_OPTS=0 to keep Eigen's kernels. Code that imports tensorflow before convnet
gets TensorFlow's own choice; training says so in one line when that left oneDNN off
(`off_line`).

Only the standard library at import: convnet/__init__.py imports this before anything else.
"""

import os
import platform
import sys
from collections.abc import Mapping, MutableMapping

ENV = "TF_ENABLE_ONEDNN_OPTS"


def prefer(environ: MutableMapping[str, str] = os.environ,
           modules: Mapping[str, object] = sys.modules) -> bool:
    """Sets ENV=1 in `environ` unless it is set or tensorflow is in `modules` (already
    imported: too late to matter). Returns whether it set it."""
    if ENV in environ or "tensorflow" in modules:
        return False
    environ[ENV] = "1"
    return True


def enabled() -> bool:
    """Whether this process's TensorFlow runs oneDNN's kernels (imports tensorflow)."""
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=import-outside-toplevel
    return bool(_pywrap_util_port.IsMklEnabled())


def off_line(on: bool, environ: Mapping[str, str] = os.environ, *,
             machine: str | None = None, system: str | None = None) -> str | None:
    """A console line when oneDNN is off (`on` False) on x86-64 Linux without the user
    having asked for that (ENV unset); None otherwise. `machine`, `system`: given by tests
    (default: this one's, `platform.machine()` and `sys.platform`)."""
    machine = platform.machine() if machine is None else machine
    system = sys.platform if system is None else system
    if on or ENV in environ or machine.lower() not in ("x86_64", "amd64") \
            or not system.startswith("linux"):
        return None
    return (f"TensorFlow's oneDNN kernels are off on this CPU (tensorflow was imported before "
            f"convnet, so convnet could not turn them on): convolutions run on Eigen, slower; "
            f"set {ENV}=1 before importing tensorflow, or import convnet first "
            f"({ENV}=0 keeps Eigen and this line away)")
