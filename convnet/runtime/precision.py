"""Mixed precision: the compute dtype of a `--precision`, and a dynamic loss scale.

Variables, logits, the loss and the preprocessing stay float32; the model
computes in the policy's dtype because every layer casts its weights to its
input's dtype (convnet.layers), so casting the images is all it takes.
float16 needs its loss scaled so small gradients do not flush to zero:
`DynamicLossScale` doubles the scale after `growth_steps` finite steps in a row
and halves it (skipping the update) whenever the gradients overflow, as in
Micikevicius et al. 2018. bfloat16 has float32's exponent range and needs none.

`--precision=auto` picks by the hardware (`choose`): mixed_float16 on a GPU with tensor
cores (compute capability >= 7.0), mixed_bfloat16 on a CPU whose instructions compute in
bfloat16 (the avx512_bf16 or amx_bf16 flag of /proc/cpuinfo: oneDNN's bfloat16 kernels),
float32 elsewhere (there bfloat16 is emulated and slower).
"""

import dataclasses
import functools

import tensorflow as tf

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
TENSOR_CORES = (7, 0)  # the compute capability from which a GPU has them (Volta)
CPUINFO = "/proc/cpuinfo"


@dataclasses.dataclass(frozen=True)
class Choice:
    """What `--precision=auto` picked (`precision`) and why (`reason`, for the console)."""
    precision: str
    reason: str

    @property
    def line(self) -> str:
        return f"--precision=auto: {self.precision} ({self.reason})"


def cpu_flags(cpuinfo: str = CPUINFO) -> set[str]:
    """The instruction-set flags of the first CPU in `cpuinfo` (empty where not readable)."""
    try:
        with open(cpuinfo, errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def _gpu_capabilities() -> list[tuple[int, int]]:
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability:
            capabilities.append(tuple(capability))
    return capabilities


def choose(flags: set[str] | None = None,
           gpu_capabilities: list[tuple[int, int]] | None = None) -> Choice:
    """The precision `auto` means on this machine (`flags`, `gpu_capabilities`: given by
    tests; default this machine's)."""
    gpus = _gpu_capabilities() if gpu_capabilities is None else gpu_capabilities
    if gpus:
        if min(gpus) >= TENSOR_CORES:
            major, minor = min(gpus)
            return Choice("mixed_float16", f"the GPU has tensor cores: compute capability "
                          f"{major}.{minor}")
        return Choice("float32", "the GPU has no tensor cores")
    flags = cpu_flags() if flags is None else flags
    found = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    if found:
        return Choice("mixed_bfloat16", f"the CPU has {' and '.join(found)}")
    return Choice("float32", f"the CPU has neither {' nor '.join(BF16_CPU_FLAGS)}")


@functools.cache
def this_machine() -> Choice:
    """`choose()` for this machine (asked once a process)."""
    return choose()


def resolve(precision: str) -> str:
    """`precision`, or what auto means on this machine."""
    return this_machine().precision if precision == "auto" else precision
# Keras' LossScaleOptimizer defaults: start at 2**15, grow after 2,000 good steps.
INITIAL_LOSS_SCALE = 2.0 ** 15
GROWTH_STEPS = 2000


def compute_dtype(precision: str) -> tf.DType:
    """float32, float16 or bfloat16 for one of PRECISIONS (auto: see `choose`)."""
    dtypes = {"float32": tf.float32, "mixed_float16": tf.float16,
              "mixed_bfloat16": tf.bfloat16}
    if precision not in PRECISIONS:
        raise ValueError(f"unknown --precision={precision!r}: choose from {', '.join(PRECISIONS)}")
    return dtypes[resolve(precision)]


class DynamicLossScale(tf.Module):
    """The loss scale S: gradients of S * loss, divided by S, equal those of loss.

    Call `scale(loss)` before differentiating, `unscale(grads)` after, and
    `update(grads_finite)` once a step in cross-replica context (or with no
    strategy). State lives in variables, so it is checkpointed with the run.
    """

    def __init__(self, initial: float = INITIAL_LOSS_SCALE, growth_steps: int = GROWTH_STEPS,
                 name: str = "loss_scale"):
        super().__init__(name=name)
        if initial < 1:
            raise ValueError(f"initial loss scale must be >= 1, got {initial}")
        if growth_steps <= 0:
            raise ValueError(f"growth steps must be positive, got {growth_steps}")
        self.growth_steps = growth_steps
        with self.name_scope:
            self.value = tf.Variable(float(initial), trainable=False, name="scale")
            self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")

    def scale(self, loss: tf.Tensor) -> tf.Tensor:
        return loss * tf.cast(self.value, loss.dtype)

    def unscale(self, grads):
        inverse = 1.0 / self.value
        return [None if g is None else tf.cast(g, tf.float32) * inverse for g in grads]

    def update(self, grads_finite) -> None:
        """Grows the scale after `growth_steps` finite steps; halves it (>= 1) on overflow."""
        grow = tf.logical_and(grads_finite, self.good_steps + 1 >= self.growth_steps)
        new_value = tf.where(grads_finite, tf.where(grow, self.value * 2.0, self.value),
                             tf.maximum(self.value / 2.0, 1.0))
        new_good = tf.where(tf.logical_and(grads_finite, tf.logical_not(grow)),
                            self.good_steps + 1, tf.zeros_like(self.good_steps))
        self.value.assign(new_value)
        self.good_steps.assign(new_good)
