"""Figure 6 of the bench: the PyTorch peer's training step, run in a Python that has torch.

`convnet/benchmarking/torch_peer.py` imports only torch and the standard library; this module
runs it as a script in a child process (`--peer_python`, default this interpreter), so PyTorch
stays out of convnet's dependencies and out of TensorFlow's process (each framework gets the
whole machine in turn). The child prints its result as the last line of its output: one JSON
object of rates (examples/sec a round), trainable parameters, forward FLOPs, torch's version
and, when asked, its op table.
"""

import json
import os
import subprocess
import sys

PEER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_peer.py")

# convnet's resolved --precision -> the peer's ('bfloat16': torch.autocast on the CPU).
PEER_PRECISIONS = {"float32": "float32", "mixed_bfloat16": "bfloat16"}


def peer_precision(resolved_precision: str) -> str:
    """The peer's precision for convnet's resolved --precision; a ValueError for the others."""
    if resolved_precision not in PEER_PRECISIONS:
        raise ValueError(f"--peer=torch times float32 and mixed_bfloat16 steps, not "
                         f"--precision={resolved_precision}")
    return PEER_PRECISIONS[resolved_precision]


def run_torch_peer(python: str | None, timeout: float = 1800.0, **spec) -> dict:
    """Runs the peer script with `spec` (`torch_peer.step_rates`' keyword arguments) under
    `python` (None: this interpreter); returns its JSON result.

    Raises RuntimeError naming the interpreter and the child's last lines when it fails
    (torch missing, an unknown network, ...)."""
    python = python or sys.executable
    command = [python, PEER_SCRIPT, json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError as error:
        raise RuntimeError(f"--peer_python={python}: no such interpreter ({error.strerror}); "
                           f"pass the python of a virtualenv that has torch") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the PyTorch peer ran past {timeout:.0f} s: {' '.join(command)}"
                           ) from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        hint = (" (torch is not installed there: pass --peer_python=/path/to/venv/bin/python "
                "of a virtualenv that has it, e.g. `python3 -m venv /tmp/torch && "
                "/tmp/torch/bin/pip install torch`)" if "No module named 'torch'" in tail
                else "")
        raise RuntimeError(f"the PyTorch peer failed under {python}{hint}:\n{tail}")
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise RuntimeError(f"the PyTorch peer's last line is not JSON: {lines[-1][:200]!r}"
                           ) from None
    return result
