"""--validation_examples: the last K training examples held out as a 'validation' split."""

import numpy as np
import pytest

from convnet.data.sources import held_out
from convnet.data.sources.spec import SourceSpec, make_source


def _source(path):
    return make_source(SourceSpec(data_source="files", data_dir=path,
                                           download=False))


def test_the_last_examples_become_the_validation_split(cifar_dir):
    path, arrays = cifar_dir
    source = held_out.HeldOutSource(_source(path), 8)
    assert (source.num_examples("train"), source.num_examples("validation"),
            source.num_examples("test")) == (32, 8, 10)
    assert source.info.num_examples["train"] == 32 and source.info.name == "cifar10"
    for split, (images, labels) in (("train", (arrays["train"][0][:32], arrays["train"][1][:32])),
                                    ("validation", (arrays["train"][0][32:],
                                                    arrays["train"][1][32:])),
                                    ("test", arrays["test"])):
        read = list(source.dataset(split).as_numpy_iterator())
        np.testing.assert_array_equal(np.stack([image for image, _ in read]), images)
        np.testing.assert_array_equal([label for _, label in read], labels)


@pytest.mark.parametrize("count", [0, 40, 41])
def test_holding_out_all_or_nothing_is_refused(cifar_dir, count):
    with pytest.raises(ValueError, match="--validation_examples"):
        held_out.HeldOutSource(_source(cifar_dir[0]), count)
