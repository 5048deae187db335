"""convnet.models.layer_table: the layer table adds up to the model's parameter count."""

from convnet import models
from convnet.models import layer_table as model_summary


def test_cifar10_table_lists_each_layer_and_totals():
    model = models.build_model("cifar10")
    rows = model_summary.layer_table(model, (24, 24, 3))
    names = [name for name, _, _, _ in rows]
    assert names == ["cifar10/conv1", "cifar10/pool1", "cifar10/norm1", "cifar10/conv2",
                     "cifar10/norm2", "cifar10/pool2", "cifar10/local3", "cifar10/local4",
                     "cifar10/softmax_linear"]
    assert rows[6][2] == (None, 384) and rows[6][3] == 885120
    assert sum(params for _, _, _, params in rows) == 1068298
    text = model_summary.format_summary(model, (24, 24, 3))
    assert "Total params: 1,068,298" in text and "Non-trainable params: 0" in text


def test_resnet_table_counts_batch_norm_statistics_as_non_trainable():
    model = models.build_model("resnet20")
    rows = model_summary.layer_table(model, (32, 32, 3))
    assert sum(params for _, _, _, params in rows) == 271098
    assert rows[-1][2] == (None, 10)
    assert "Non-trainable params: 1,376" in model_summary.format_summary(model, (32, 32, 3))
