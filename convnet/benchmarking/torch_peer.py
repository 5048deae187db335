"""The PyTorch peer of convnet's networks: the same training step, timed in PyTorch.

A measurement peer for `convnet.bench --peer=torch`, never a dependency of convnet: this file
imports only torch and the Python standard library, so it runs in a separate virtualenv that has
torch (and no TensorFlow) as a script:

    /path/to/torch-venv/bin/python convnet/benchmarking/torch_peer.py '{"name": "fast93",
        "batch_size": 512, "precision": "bfloat16", "steps": 10, "repeats": 3, "threads": 2}'

The spec holds `step_rates`' keyword arguments (and "op_table": true for a profile of one more
round); the last stdout line is the result, one JSON object.

`PEERS` maps each network to a builder of its `nn.Module`: the layers, kernel sizes, biases,
BatchNorm settings (epsilon, momentum, gamma or not), shortcuts, dropout and GELU of convnet's
model of that name, so the same trainable parameter count and forward FLOPs. Module names mirror
convnet's variable names (`resnet20/stage2_block1/conv1/kernel` is `stage2_block1.conv1.weight`,
BN `gamma/beta/moving_mean/moving_variance` are `weight/bias/running_mean/running_var`), so
convnet's weights copy over name by name. Where the peer differs from convnet:

- A 3x3 stride-2 'SAME' convolution (the ResNets' downsampling convs) pads 1 pixel on every side,
  as PyTorch users write it; TensorFlow pads 0 before and 1 after on an even size. The output
  shapes and FLOPs are the same, the windows sit one pixel apart. `tf_padding=True` pads as
  TensorFlow does (an extra F.pad), for comparing outputs with convnet's.
- BatchNorm without gamma (the fast nets' scale=False) is `nn.BatchNorm2d` whose weight is frozen
  at 1 (requires_grad False, as airbench does it): not trainable, not counted.
- Initialisation is PyTorch's default (convnet's truncated normals and the fast nets' identity
  init and whitening kernel are not copied): it does not change what a step computes.
"""

import json
import sys
import time
from collections import OrderedDict
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

# convnet's BatchNorm defaults: momentum 0.9 in its convention (PyTorch's momentum 0.1), eps 1e-3.
BN_MOMENTUM, BN_EPSILON = 0.9, 1e-3
# The fast nets' (convnet.models.fast).
FAST_BN_MOMENTUM, FAST_BN_EPSILON = 0.6, 1e-12
FAST_WIDTHS = {"fast93": (64, 128, 128), "fast94": (64, 256, 256)}
WHITEN_KERNEL_SIZE, FINAL_POOL, LOGIT_SCALE = 2, 3, 1.0 / 9.0
VGG16_GROUPS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
VGG_DROPOUT = 0.2
# A copy of convnet.models.densenet's table (and the constants above of theirs): this script
# imports nothing of convnet, so that it runs where only torch is; the tests check that every
# peer has convnet's parameter count and FLOPs.
DENSENET_CONFIGS = {  # name: (bottlenecks per block, growth)
    "densenet100_12": ((16, 16, 16), 12),
    "densenet100_24": ((16, 16, 16), 24),
    "densenet121": ((6, 12, 24, 16), 32),
    "densenet169": ((6, 12, 32, 32), 32),
    "densenet201": ((6, 12, 48, 32), 32),
    "densenet161": ((6, 12, 36, 24), 48),
}
PRECISIONS = ("float32", "bfloat16")
WARMUP_STEPS = 2
OP_TABLE_ROWS = 30


class Conv(nn.Conv2d):
    """`nn.Conv2d` with TensorFlow's padding names: 'VALID', or 'SAME' (odd kernels), which pads
    k // 2 on every side; with `tf_padding` a strided 'SAME' conv pads as TensorFlow does (the
    odd pixel after), for output-for-output comparisons with convnet."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
                 padding: str = "SAME", bias: bool = False, tf_padding: bool = False):
        if padding == "SAME" and kernel_size % 2 == 0:
            raise ValueError(f"'SAME' needs an odd kernel here, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         kernel_size // 2 if padding == "SAME" else 0, bias=bias)
        self.tf_padding = tf_padding and padding == "SAME" and stride != 1

    def forward(self, x):
        if not self.tf_padding:
            return super().forward(x)
        pads = []
        for size, k, s in ((x.shape[3], self.kernel_size[1], self.stride[1]),
                           (x.shape[2], self.kernel_size[0], self.stride[0])):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride)


def _bn(channels: int, momentum: float = BN_MOMENTUM, eps: float = BN_EPSILON,
        *, scale: bool = True) -> nn.BatchNorm2d:
    """convnet's BatchNorm (momentum in its convention); scale=False freezes gamma at 1."""
    bn = nn.BatchNorm2d(channels, eps=eps, momentum=1.0 - momentum)
    if not scale:
        bn.weight.requires_grad_(False)
    return bn


class _Named(nn.Module):
    """Runs the children named in `self.order` one after the other."""

    order: list

    def run(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        return x


# --- ResNets (convnet.models.resnet) ---------------------------------------------------------

class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + shortcut, ReLU. Shortcut where the shape
    changes: 'projection' (conv 1x1 + BN, named conv/bn as convnet's) or 'zero_pad' (option A:
    subsample by the stride, zero channels split as convnet's, extra // 2 before)."""

    def __init__(self, in_channels: int, filters: int, stride: int, *, shortcut: str,
                 tf_padding: bool = False):
        super().__init__()
        self.conv1 = Conv(in_channels, filters, 3, stride=stride, tf_padding=tf_padding)
        self.bn1 = _bn(filters)
        self.conv2 = Conv(filters, filters, 3)
        self.bn2 = _bn(filters)
        self.stride, self.extra = stride, filters - in_channels
        self.project = shortcut == "projection" and (in_channels != filters or stride != 1)
        if self.project:
            self.conv = Conv(in_channels, filters, 1, stride=stride)
            self.bn = _bn(filters)

    def shortcut(self, x):
        if self.project:
            return self.bn(self.conv(x))
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return x

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x), inplace=True)


class ResNet(_Named):
    """stem conv 3x3 -> BN -> ReLU -> basic blocks -> global average pool -> dense."""

    def __init__(self, num_classes: int, stages, stem_filters: int, *, shortcut: str,
                 channels: int = 3, tf_padding: bool = False):
        super().__init__()
        self.stem = Conv(channels, stem_filters, 3)
        self.stem_bn = _bn(stem_filters)
        self.order, in_channels = [], stem_filters
        for s, (filters, count, stride) in enumerate(stages, start=1):
            for b in range(count):
                name = f"stage{s}_block{b + 1}"
                self.add_module(name, BasicBlock(in_channels, filters, stride if b == 0 else 1,
                                                 shortcut=shortcut, tf_padding=tf_padding))
                self.order.append(name)
                in_channels = filters
        self.logits = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        x = self.run(F.relu(self.stem_bn(self.stem(x)), inplace=True))
        return self.logits(x.mean((2, 3)))


def resnet18(num_classes: int = 10, channels: int = 3, image_size: int = 32,
             *, tf_padding: bool = False) -> ResNet:
    stages = ((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2))
    return ResNet(num_classes, stages, 64, shortcut="projection", channels=channels,
                  tf_padding=tf_padding)


def cifar_resnet(depth: int, num_classes: int = 10, channels: int = 3, *, image_size: int = 32,
                 tf_padding: bool = False) -> ResNet:
    n = (depth - 2) // 6
    return ResNet(num_classes, ((16, n, 1), (32, n, 2), (64, n, 2)), 16, shortcut="zero_pad",
                  channels=channels, tf_padding=tf_padding)


# --- VGG16 (convnet.models.vgg) --------------------------------------------------------------

def vgg16(num_classes: int = 10, channels: int = 3, image_size: int = 32,
          *, tf_padding: bool = False) -> nn.Sequential:
    """conv3x3 (bias) -> BN -> ReLU, max-pool 2/2 'SAME' (ceil_mode: TensorFlow's windows) and
    dropout 0.2 after each group; dense 512 ReLU, dropout, dense 512 ReLU, dropout, dense.
    The flatten is NCHW's order (the same as convnet's NHWC one when the last map is 1x1)."""
    body, in_channels, size = OrderedDict(), channels, image_size
    for g, group in enumerate(VGG16_GROUPS, start=1):
        for i, width in enumerate(group, start=1):
            body[f"conv{g}_{i}"] = Conv(in_channels, width, 3, bias=True)
            body[f"bn{g}_{i}"] = _bn(width)
            body[f"relu{g}_{i}"] = nn.ReLU(inplace=True)
            in_channels = width
        body[f"pool{g}"] = nn.MaxPool2d(2, 2, ceil_mode=True)
        body[f"dropout{g}"] = nn.Dropout(VGG_DROPOUT)
        size = -(-size // 2)
    body["flatten"] = nn.Flatten()
    body["fc1"] = nn.Linear(in_channels * size * size, 512)
    body["fc1_relu"] = nn.ReLU(inplace=True)
    body["fc1_dropout"] = nn.Dropout(VGG_DROPOUT)
    body["fc2"] = nn.Linear(512, 512)
    body["fc2_relu"] = nn.ReLU(inplace=True)
    body["fc2_dropout"] = nn.Dropout(VGG_DROPOUT)
    body["logits"] = nn.Linear(512, num_classes)
    return nn.Sequential(body)


# --- DenseNet-BC (convnet.models.densenet) ---------------------------------------------------

class Bottleneck(nn.Module):
    """BN-ReLU-conv 4k@1x1, BN-ReLU-conv k@3x3, concatenated onto the input."""

    def __init__(self, in_channels: int, growth: int):
        super().__init__()
        self.bn1 = _bn(in_channels)
        self.conv1x1 = Conv(in_channels, 4 * growth, 1)
        self.bn2 = _bn(4 * growth)
        self.conv3x3 = Conv(4 * growth, growth, 3)

    def forward(self, x):
        y = self.conv1x1(F.relu(self.bn1(x), inplace=True))
        y = self.conv3x3(F.relu(self.bn2(y), inplace=True))
        return torch.cat([x, y], 1)


class Transition(nn.Module):
    """BN-ReLU-conv 1x1 to floor(c / 2) channels, avg-pool 2/2 'VALID'."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.out_channels = in_channels // 2
        self.bn = _bn(in_channels)
        self.conv = Conv(in_channels, self.out_channels, 1)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x), inplace=True)), 2, 2)


class DenseNet(_Named):
    def __init__(self, num_classes: int, blocks, growth: int, *, channels: int = 3):
        super().__init__()
        self.stem = Conv(channels, 2 * growth, 3)
        self.order, width = ["stem"], 2 * growth
        for b, count in enumerate(blocks, start=1):
            for i in range(count):
                self.add_module(f"block{b}_layer{i + 1}", Bottleneck(width, growth))
                self.order.append(f"block{b}_layer{i + 1}")
                width += growth
            if b < len(blocks):
                self.add_module(f"transition{b}", Transition(width))
                self.order.append(f"transition{b}")
                width //= 2
        self.final_bn = _bn(width)
        self.logits = nn.Linear(width, num_classes)

    def forward(self, x):
        x = F.relu(self.final_bn(self.run(x)), inplace=True)
        return self.logits(x.mean((2, 3)))


def densenet(name: str, num_classes: int = 10, channels: int = 3, *, image_size: int = 32,
             tf_padding: bool = False) -> DenseNet:
    blocks, growth = DENSENET_CONFIGS[name]
    return DenseNet(num_classes, blocks, growth, channels=channels)


# --- airbench nets (convnet.models.fast) -----------------------------------------------------

class ConvGroup(nn.Module):
    """conv3x3 -> max-pool 2/2 -> BN -> GELU -> conv3x3 -> BN -> GELU (no biases, no gamma)."""

    def __init__(self, in_channels: int, filters: int):
        super().__init__()
        norm = dict(momentum=FAST_BN_MOMENTUM, eps=FAST_BN_EPSILON, scale=False)
        self.conv1 = Conv(in_channels, filters, 3)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn1 = _bn(filters, **norm)
        self.conv2 = Conv(filters, filters, 3)
        self.bn2 = _bn(filters, **norm)

    def forward(self, x):
        x = F.gelu(self.bn1(self.pool(self.conv1(x))))
        return F.gelu(self.bn2(self.conv2(x)))


class FastNet(nn.Module):
    """whiten (conv 2x2 'VALID', frozen kernel, trainable bias) -> GELU -> 3 groups ->
    max-pool 3/3 -> flatten -> dense (no bias) -> x 1/9."""

    def __init__(self, widths, num_classes: int = 10, channels: int = 3, *, image_size: int = 32):
        super().__init__()
        k = WHITEN_KERNEL_SIZE
        self.whiten = Conv(channels, 2 * channels * k * k, k, padding="VALID", bias=True)
        self.whiten.weight.requires_grad_(False)
        nn.init.zeros_(self.whiten.bias)
        in_channels, size = 2 * channels * k * k, image_size - k + 1
        for i, width in enumerate(widths, start=1):
            self.add_module(f"group{i}", ConvGroup(in_channels, width))
            in_channels, size = width, size // 2
        self.pool = nn.MaxPool2d(FINAL_POOL, FINAL_POOL)
        size //= FINAL_POOL
        self.logits = nn.Linear(in_channels * size * size, num_classes, bias=False)

    def forward(self, x):
        x = F.gelu(self.whiten(x))
        x = self.group3(self.group2(self.group1(x)))
        return self.logits(torch.flatten(self.pool(x), 1)) * LOGIT_SCALE


def fast(name: str, num_classes: int = 10, channels: int = 3, *, image_size: int = 32,
         tf_padding: bool = False) -> FastNet:
    return FastNet(FAST_WIDTHS[name], num_classes, channels, image_size=image_size)


# Each builder: builder(num_classes=10, channels=3, image_size=32, tf_padding=False) -> nn.Module
# mapping float32 [batch, channels, image_size, image_size] to [batch, num_classes] logits.
PEERS = {
    "resnet18": resnet18,
    **{f"resnet{depth}": partial(cifar_resnet, depth) for depth in (20, 32, 56, 110)},
    "vgg16": vgg16,
    **{name: partial(densenet, name) for name in DENSENET_CONFIGS},
    **{name: partial(fast, name) for name in FAST_WIDTHS},
}


def trainable_params(model: nn.Module) -> int:
    """Values in the parameters that train (requires_grad): convnet's count_trainable_params."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def forward_flops(model: nn.Module, image_size: int = 32, channels: int = 3) -> int:
    """2 x the multiply-adds of every Conv2d and Linear on one example (frozen convs included),
    as convnet.benchmarking.flops counts them; runs one zero image in inference mode."""
    macs = []

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs.append(output.shape[2] * output.shape[3] * module.out_channels * kh * kw
                        * module.in_channels // module.groups)
        else:
            macs.append(module.in_features * module.out_features)

    handles = [m.register_forward_hook(count) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, image_size, image_size))
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)
    return 2 * sum(macs)


def _check(name, batch_size, precision, *, steps, repeats, threads):
    if name not in PEERS:
        raise ValueError(f"no PyTorch peer of {name!r}: choose from {', '.join(sorted(PEERS))}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    for key, value in (("batch_size", batch_size), ("steps", steps), ("repeats", repeats),
                       ("threads", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive int, got {value!r}")


def step_rates(name: str, batch_size: int, precision: str, *, steps: int, repeats: int,
               threads: int, image_size: int = 32, channels: int = 3, num_classes: int = 10,
               lr: float = 0.01, op_table: bool = False) -> dict:
    """Times the training step of the peer of `name` in examples/sec.

    The step: channels_last model and input, cross-entropy, backward, SGD (momentum 0.9, no
    Nesterov, no weight decay) on one random in-memory batch (seed 0). 'bfloat16' runs the
    forward pass and the loss under `torch.autocast('cpu', dtype=torch.bfloat16)` with the
    weights in float32; 'float32' without autocast. `WARMUP_STEPS` untimed steps, then
    `repeats` rounds of `steps` steps, one rate a round. With `op_table`, one more round under
    the profiler gives "op_table": [[op, self CPU ms a step, calls a step], ...], the
    `OP_TABLE_ROWS` costliest first.
    """
    _check(name, batch_size, precision, steps=steps, repeats=repeats, threads=threads)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = PEERS[name](num_classes=num_classes, channels=channels, image_size=image_size)
    flops = forward_flops(model, image_size, channels)
    model = model.to(memory_format=torch.channels_last).train()
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch_size, channels, image_size, image_size, generator=generator)
    images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, num_classes, (batch_size,), generator=generator)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=lr, momentum=0.9, nesterov=False)
    bfloat16 = precision == "bfloat16"

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP_STEPS):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(batch_size * steps / (time.perf_counter() - start))
    result = {"network": name, "batch_size": batch_size, "precision": precision,
              "threads": threads, "torch": torch.__version__, "params": trainable_params(model),
              "examples_per_sec": rates, "forward_flops_per_example": flops}
    if op_table:
        result["op_table"] = _op_table(step, steps)
    return result


def _op_table(step, steps: int) -> list:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            step()
    events = sorted(profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return [[e.key, round(e.self_cpu_time_total / 1000.0 / steps, 4), e.count / steps]
            for e in events[:OP_TABLE_ROWS]]


def main(argv) -> int:
    """argv[1]: a JSON object of `step_rates`' keyword arguments; prints the result's JSON."""
    if len(argv) != 2:
        raise SystemExit(f"usage: {argv[0]} '<JSON object of step_rates keyword arguments>'")
    spec = json.loads(argv[1])
    if not isinstance(spec, dict):
        raise SystemExit(f"the spec must be a JSON object, got {argv[1]!r}")
    print(json.dumps(step_rates(**spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
