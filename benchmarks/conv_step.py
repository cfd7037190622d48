"""SimpleConvNet training, chainrule against PyTorch: seconds per epoch, side by side.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv_step.py
    python benchmarks/conv_step.py --worker torch        # one library alone, standalone

The same work on both sides: conv 1->30 5x5, ReLU, max-pool 2x2, Linear 4320->100,
ReLU, Linear 100->10, cross entropy, Adam lr 0.001, float32, batch 100, 2 threads, the
same samples in the same order (a permutation drawn once per epoch from one seed), each
batch gathered into a buffer allocated once (``np.take(out=)`` / ``index_select(out=)``).
Each library runs in its own process (spinning BLAS/OpenMP threads of one must not slow
the other), for ``--epochs`` consecutive epochs of one continuing run over the first
``--samples`` training images; epoch 1 and the median of the later epochs are reported
apart. The torch worker is the standalone script: ``--worker torch`` alone times exactly
what the comparison times. PyTorch is never a dependency of chainrule.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def load(samples):
    from chainrule.data import load_fashion_mnist

    (x, t), _ = load_fashion_mnist(flatten=False, progress=False)
    return np.ascontiguousarray(x[:samples]), t[:samples].astype(np.int64)


def orders(n, epochs, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def run_chainrule(x, t, epochs, batch):
    from chainrule.models import SimpleConvNet
    from chainrule.optim import Adam

    net = SimpleConvNet(weight_init_std="he", dtype=np.float32, random_state=0)
    optimizer = Adam(lr=0.001)
    xb = np.empty((batch, *x.shape[1:]), np.float32)
    tb = np.empty(batch, np.intp)
    times = []
    for order in orders(len(x), epochs):
        start = time.perf_counter()
        for k in range(0, len(x) - batch + 1, batch):
            idx = order[k:k + batch]
            np.take(x, idx, axis=0, out=xb)
            np.take(t, idx, out=tb)
            net.forward_checked(xb, tb)
            net.backward()
            optimizer.update(net.params, net.grads)
        times.append(time.perf_counter() - start)
    return times


def run_torch(x, t, epochs, batch):
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4320, 100), nn.ReLU(), nn.Linear(100, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    X, T = torch.from_numpy(x), torch.from_numpy(t)
    xb, tb = torch.empty((batch, *x.shape[1:])), torch.empty(batch, dtype=torch.int64)
    times = []
    for order in orders(len(x), epochs):
        order = torch.from_numpy(order)
        start = time.perf_counter()
        for k in range(0, len(x) - batch + 1, batch):
            idx = order[k:k + batch]
            torch.index_select(X, 0, idx, out=xb)
            torch.index_select(T, 0, idx, out=tb)
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(net(xb), tb)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def worker(name, samples, epochs, batch):
    x, t = load(samples)
    times = (run_torch if name == "torch" else run_chainrule)(x, t, epochs, batch)
    return {"library": name, "epochs": times, "steps": (samples // batch) * epochs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["chainrule", "torch"])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per library")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.samples, args.epochs, args.batch)))
        return 0
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    results = {"chainrule": [], "torch": []}
    for _ in range(args.rounds):
        for name in results:
            time.sleep(0.5)
            out = subprocess.run([sys.executable, __file__, "--worker", name,
                                  "--samples", str(args.samples), "--epochs", str(args.epochs),
                                  "--batch", str(args.batch)], env=env, capture_output=True,
                                 text=True)
            if out.returncode:
                print(f"{name}: failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    steps = args.samples // args.batch
    print(f"SimpleConvNet, Fashion-MNIST first {args.samples} images, batch {args.batch}, "
          f"float32, Adam, {args.epochs} epochs per run, {args.rounds} runs each")
    print(f"{'library':<10} {'epoch 1 (s)':>12} {'later epochs, median (s)':>26} "
          f"{'ms/step (later)':>16}")
    medians = {}
    for name, runs in results.items():
        if not runs:
            print(f"{name:<10} {'not installed or failed':>12}")
            continue
        first = np.median([r["epochs"][0] for r in runs])
        later = np.median([e for r in runs for e in r["epochs"][1:]])
        medians[name] = later
        print(f"{name:<10} {first:>12.2f} {later:>26.2f} {1e3 * later / steps:>16.2f}")
    if len(medians) == 2:
        ratio = medians["chainrule"] / medians["torch"]
        print(f"ratio chainrule / torch (later epochs): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
