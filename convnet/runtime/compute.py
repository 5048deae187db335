"""Where and in what precision a step computes (train, eval, bench), each setting with its
default, help and choices (convnet.runtime.options)."""

import dataclasses

from convnet.runtime import distribute, precision
from convnet.runtime.options import check, option


@dataclasses.dataclass
class ComputeConfig:
    """The devices (a tf.distribute strategy), the compute dtype and XLA."""
    strategy: str = option(
        "default", "tf.distribute strategy: default (one device), one_device, mirrored (all "
        "local GPUs), multi_worker (the cluster in TF_CONFIG), tpu (--tpu).",
        choices=distribute.STRATEGIES)
    tpu: str | None = option(None, "TPU name or grpc:// address for --strategy=tpu.")
    precision: str = option(
        "float32", "Compute dtype of the model: float32, or mixed_float16/mixed_bfloat16 "
        "(variables, logits, loss and preprocessing stay float32; float16 uses a dynamic "
        "loss scale), or auto: mixed_float16 on a GPU with tensor cores, mixed_bfloat16 on a "
        "CPU with avx512_bf16 or amx_bf16, float32 elsewhere (one line says which).",
        choices=precision.PRECISIONS)
    xla: bool = option(False, "Compile the step with XLA (jit_compile=True); batches have a "
                       "fixed shape (evaluation pads and masks the last one).")

    def validate(self) -> None:
        check(self)
