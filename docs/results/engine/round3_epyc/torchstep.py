"""ONEDNN_VERBOSE=1 python torchstep.py MODEL BATCH: the peer's bf16 step, marked rounds."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../../convnet/benchmarking"))
import torch
import torch.nn.functional as F
import torch_peer

name, batch = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(2)
torch.manual_seed(0)
model = (
    torch_peer.PEERS[name](num_classes=10, channels=3, image_size=32)
    .to(memory_format=torch.channels_last)
    .train()
)
images = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
labels = torch.randint(0, 10, (batch,))
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)


def step():
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = F.cross_entropy(model(images), labels)
    loss.backward()
    opt.step()


for i in range(4):
    if i == 3:
        print("=== MEASURED", flush=True)
    step()
print("=== END", flush=True)
