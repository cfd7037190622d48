"""Seconds per epoch of a plain PyTorch loop on Fashion-MNIST, printed as JSON: the reference.

The fastest straightforward PyTorch code: the data in two tensors, every epoch a
``torch.randperm`` gathered with ``torch.index_select(..., out=)`` into buffers allocated
once, slices of those as batches, ``nn.Linear``, ``F.cross_entropy``, ``torch.optim``.
run.py checks its own PyTorch worker against it. Example:
``python benchmarks/torch_standalone.py --activation relu --optimizer adam --epochs 6``
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

from chainrule.data import load_fashion_mnist  # only reads the files

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--activation", choices=("sigmoid", "relu"), default="relu")
p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
p.add_argument("--lr", type=float, help="default 0.1 for SGD, 0.001 for Adam")
p.add_argument("--fused", action="store_true", help="torch.optim's fused implementation")
p.add_argument("--batch", type=int, default=100)
p.add_argument("--hidden", default="100", help="hidden widths, e.g. 256,256,256")
p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--epochs", type=int, default=6)
a = p.parse_args()
torch.set_num_threads(a.threads)
dtype, relu = getattr(torch, a.dtype), a.activation == "relu"
(x, t), _ = load_fashion_mnist(download=False)
X, T = torch.from_numpy(x).to(dtype), torch.from_numpy(t).long()
sizes, layers = [784, *map(int, a.hidden.split(",")), 10], []
for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):  # He / Xavier normal, zero bias
    layers += [nn.Linear(d_in, d_out, dtype=dtype), nn.ReLU() if relu else nn.Sigmoid()]
    nn.init.normal_(layers[-2].weight, std=((2.0 if relu else 1.0) / d_in) ** 0.5)
    nn.init.zeros_(layers[-2].bias)
model = nn.Sequential(*layers[:-1])
Opt = torch.optim.SGD if a.optimizer == "sgd" else torch.optim.Adam
opt = Opt(model.parameters(), lr=a.lr or (0.1 if a.optimizer == "sgd" else 0.001),
          **({"fused": True} if a.fused else {}))
Xbuf, Tbuf, seconds = torch.empty_like(X), torch.empty_like(T), []
for _ in range(a.epochs):
    start = time.perf_counter()
    perm = torch.randperm(X.shape[0])
    torch.index_select(X, 0, perm, out=Xbuf)
    torch.index_select(T, 0, perm, out=Tbuf)
    for i in range(0, X.shape[0], a.batch):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(Xbuf[i:i + a.batch]), Tbuf[i:i + a.batch])
        loss.backward()
        opt.step()
    seconds.append(time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "last_loss": loss.item(), "torch": torch.__version__}))
