"""convnet.training.memory: the lower-bound estimate of a training step's memory, and the batch
check."""


import pytest
import tensorflow as tf

from convnet import models
from convnet.runtime.errors import BatchSizeError
from convnet.training import memory


def test_batch_size_estimate_against_available_memory(monkeypatch):
    model = models.build_model("lenet5", 10)
    model(tf.zeros([1, 28, 28, 1]))
    # conv1 24x24x6, pool 12x12x6, conv2 8x8x16, pool 4x4x16, flatten 256, 120, 84, 10
    assert memory.activation_values(model, [28, 28, 1]) == 6070
    per_example = memory.INPUT_BATCHES_HELD * 28 * 28 * 1 * 4 + 6070 * 4  # 33,688 bytes
    available = per_example * 1000
    check = lambda batch_size, **kwargs: memory.check_train_batch(  # noqa: E731
        batch_size, model, [28, 28, 1], train_examples=60000, dataset="mnist", available=available,
        accelerator=False, **kwargs)
    check(1000)  # exactly fits
    with pytest.raises(BatchSizeError) as error:
        check(1001)
    assert str(error.value) == (
        "--batch_size=1001 needs about 32.2 MiB of memory (3 input batches 9.0 MiB; activations "
        "23.2 MiB, 6,070 float32 values an example), but 32.1 MiB is available: use "
        "--batch_size=1000 or less.")
    check(1563, compute_dtype=tf.float16)  # 9,408 + 12,140 bytes an example
    memory.check_train_batch(3000, model, [28, 28, 1], train_examples=60000, available=available,
                             accelerator=True)  # activations in the accelerator's memory
    with pytest.raises(BatchSizeError) as error:
        memory.check_train_batch(60001, model, [28, 28, 1], train_examples=60000, dataset="mnist",
                                 available=10 ** 12)
    assert str(error.value) == (
        "--batch_size=60001 is larger than the 60,000 examples of the mnist training split (each "
        "batch would hold some examples more than once): use --batch_size=60000 or less.")
    monkeypatch.setattr(memory, "available_bytes", lambda: None)  # unknown: only the split
    memory.check_train_batch(59999, model, [28, 28, 1], train_examples=60000, accelerator=False)
    assert memory.format_bytes(1.2 * 2 ** 40) == "1.2 TiB"


@pytest.mark.parametrize("count, text", [
    (0, "0 bytes"), (512, "512 bytes"), (1023, "1,023 bytes"), (1024, "1.0 KiB"),
    (1536, "1.5 KiB"), (22.1 * 2 ** 30, "22.1 GiB"), (3 * 2 ** 50, "3.0 PiB"),
    (2 ** 70, "1,024.0 EiB")])
def test_format_bytes(count, text):
    assert memory.format_bytes(count) == text


def test_train_step_bytes_counts_the_input_batches_and_the_activations():
    assert memory.train_step_bytes(10, [24, 24, 3], 1000, activation_bytes_per_value=2) == {
        "input": memory.INPUT_BATCHES_HELD * 10 * 24 * 24 * 3 * 4, "activations": 10 * 1000 * 2}
    assert memory.train_step_bytes(1, [1, 1, 1], 5) == {"input": 3 * 4, "activations": 5 * 4}
