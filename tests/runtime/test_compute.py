"""ComputeConfig: the strategy, precision and XLA settings, checked before any TF op."""

import pytest

from convnet.runtime.compute import ComputeConfig


@pytest.mark.parametrize("overrides, message", [
    (dict(strategy="horovod"), "unknown --strategy='horovod': choose from default, one_device"),
    (dict(precision="float16"), "unknown --precision='float16': choose from float32, mixed_"),
])
def test_validate_names_the_flag_and_its_choices(overrides, message):
    with pytest.raises(ValueError, match=message):
        ComputeConfig(**overrides).validate()


def test_the_defaults_pass():
    config = ComputeConfig()
    config.validate()
    assert (config.strategy, config.precision, config.xla, config.tpu) == (
        "default", "float32", False, None)
