"""convnet.benchmarking.torch_peer: the PyTorch peers have convnet's trainable parameters, FLOPs
and (with convnet's weights copied in) logits; step_rates and the script's JSON line."""

import ast
import functools
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from convnet import models
from convnet.benchmarking import flops

torch = pytest.importorskip("torch")

from convnet.benchmarking import torch_peer  # noqa: E402 -- imports torch

NETWORKS = ("resnet20", "resnet56", "resnet18", "vgg16", "densenet100_12", "fast93", "fast94")
# convnet variable -> peer tensor, by the last part of the name (the rest is the module path).
TENSOR_NAMES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
                "moving_mean": "running_mean", "moving_variance": "running_var"}


@functools.cache
def _convnet(name):
    tf.random.set_seed(0)
    model = models.build_model(name)
    model(tf.zeros([1, 32, 32, 3]))
    return model


def _peer(name, **kwargs):
    torch.manual_seed(0)
    return torch_peer.PEERS[name](**kwargs).eval()


def _peer_key(variable):
    path = variable.name.split(":")[0].split("/")[1:]  # without the model's name
    return ".".join([*path[:-1], TENSOR_NAMES[path[-1]]])


def _to_torch(value):
    """HWIO conv kernels -> OIHW, [in, out] dense kernels -> [out, in]."""
    if value.ndim == 4:
        value = value.transpose(3, 2, 0, 1)
    elif value.ndim == 2:
        value = value.T
    return torch.from_numpy(np.ascontiguousarray(value))


def _peer_tensors(peer):
    """The peer's parameters and BN statistics, less the gammas frozen at 1 (convnet's
    scale=False has none) and the batch counters."""
    frozen = {f"{name}.weight" for name, module in peer.named_modules()
              if isinstance(module, torch.nn.BatchNorm2d) and not module.weight.requires_grad}
    return {key: value for key, value in peer.state_dict().items()
            if key not in frozen and not key.endswith("num_batches_tracked")}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", NETWORKS)
def test_trainable_parameters_and_forward_flops_match_convnets(name):
    model, peer = _convnet(name), _peer(name)
    assert torch_peer.trainable_params(peer) == models.count_trainable_params(model)
    assert torch_peer.forward_flops(peer) == flops.model_flops(model, (32, 32, 3))[
        "forward_per_example"]
    assert peer(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_convnet_variable_has_a_peer_tensor_of_its_name_and_shape(name):
    model, peer = _convnet(name), _peer(name)
    expected = {_peer_key(v): tuple(_to_torch(v.numpy()).shape) for v in model.variables}
    assert {key: tuple(t.shape) for key, t in _peer_tensors(peer).items()} == expected


@pytest.mark.parametrize("name", sorted(set(torch_peer.PEERS) - set(NETWORKS)))
def test_the_other_peers_have_the_registered_trainable_counts(name):
    entry = models.MODELS[name]
    assert torch_peer.trainable_params(torch_peer.PEERS[name]()) == \
        entry.params - entry.non_trainable


def _copy_weights(model, peer):
    """convnet's variables into the peer, after randomizing BN's (else identities)."""
    rng = np.random.default_rng(1)
    for v in model.variables:
        leaf = v.name.split(":")[0].rsplit("/", 1)[-1]
        if leaf in ("moving_mean", "beta"):
            v.assign(rng.normal(0, 0.1, v.shape).astype(np.float32))
        elif leaf in ("moving_variance", "gamma"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype(np.float32))
    tensors = _peer_tensors(peer)
    with torch.no_grad():
        for v in model.variables:
            tensors[_peer_key(v)].copy_(_to_torch(v.numpy()))


@pytest.mark.parametrize("name,tf_padding", [("fast93", False), ("resnet20", True),
                                             ("resnet18", True), ("vgg16", False),
                                             ("densenet100_12", False)])
def test_with_convnets_weights_the_inference_logits_agree(name, tf_padding):
    model, peer = _convnet(name), _peer(name, tf_padding=tf_padding)
    _copy_weights(model, peer)
    images = np.random.default_rng(2).normal(size=(2, 32, 32, 3)).astype(np.float32)
    expected = model(tf.constant(images), training=False).numpy()
    with torch.no_grad():
        logits = peer(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    scale = np.abs(expected).max()
    assert scale > 0.01  # not vanishing (the fast nets' logits are scaled by 1/9)
    assert np.abs(logits - expected).max() <= 1e-5 * max(1.0, scale)
    if tf_padding:  # PyTorch's symmetric padding of the stride-2 convs: other windows
        torch_padded = _peer(name)
        torch_padded.load_state_dict(peer.state_dict())
        with torch.no_grad():
            other = torch_padded(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
        assert np.abs(other - expected).max() > 1e-2 * scale


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_step_rates(precision):
    result = torch_peer.step_rates("fast93", batch_size=2, precision=precision, steps=1,
                                   repeats=2, threads=1, op_table=precision == "bfloat16")
    assert result["network"] == "fast93" and result["batch_size"] == 2
    assert result["precision"] == precision and result["threads"] == 1
    assert result["torch"] == torch.__version__
    assert result["params"] == 568_728
    assert result["forward_flops_per_example"] == torch_peer.forward_flops(_peer("fast93"))
    assert len(result["examples_per_sec"]) == 2 and min(result["examples_per_sec"]) > 0
    if precision == "bfloat16":
        table = result["op_table"]
        assert 0 < len(table) <= torch_peer.OP_TABLE_ROWS
        assert [row[1] for row in table] == sorted((row[1] for row in table), reverse=True)
        assert any("conv" in row[0] for row in table) and all(row[2] > 0 for row in table)
    else:
        assert "op_table" not in result


def test_step_rates_rejects_what_it_cannot_run():
    with pytest.raises(ValueError, match="no PyTorch peer"):
        torch_peer.step_rates("lenet5", 2, "float32", steps=1, repeats=1, threads=1)
    with pytest.raises(ValueError, match="precision"):
        torch_peer.step_rates("fast93", 2, "float16", steps=1, repeats=1, threads=1)


def test_the_script_prints_the_result_as_its_last_line():
    spec = dict(name="resnet20", batch_size=2, precision="float32", steps=1, repeats=1,
                threads=1)
    run = subprocess.run([sys.executable, torch_peer.__file__, json.dumps(spec)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["network"] == "resnet20" and result["params"] == 269_722
    assert len(result["examples_per_sec"]) == 1 and result["examples_per_sec"][0] > 0


def test_the_module_imports_only_torch_and_the_standard_library():
    with open(torch_peer.__file__) as f:
        tree = ast.parse(f.read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert "torch" in imported
    assert imported - {"torch"} <= set(sys.stdlib_module_names), imported
