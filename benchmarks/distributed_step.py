"""Data-parallel steps over MPI: time per step on 1 and 2 ranks, and the Allreduce's share.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/distributed_step.py
    python benchmarks/distributed_step.py --model 784-100-10 --dtype float64

For each network, three layouts of the same training run (Fashion-MNIST, Adam 0.001,
global batch ``--batch``, the same samples in the same order):

* 1 rank x 1 BLAS thread, 1 rank x 2 threads: a plain ``Trainer`` in one process;
* 2 ranks x 1 thread each: ``mpiexec -n 2`` and ``DataParallelTrainer``.

Each worker is its own process and runs ``--epochs`` consecutive epochs over the first
``--samples`` images, each step through ``Trainer.step`` on a batch gathered into a
buffer allocated once; the report gives the median step time of the epochs after the
first. For the 2-rank layout it also gives the time inside the Allreduce (waiting for
the slower rank included) and, apart, a bare Allreduce of the same buffer repeated
1000 times: the pure cost of moving the gradient's bytes between the two processes.
Then the cost model of docs/distributed.md, with this machine's compute time per sample,
for K = 2..64 ranks on 10 and 100 Gbit/s links.

Needs the mpi extra (``pip install -e '.[mpi]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

NETS = {"784-100-10": [100], "784-3x512-10": [512, 512, 512]}

#: Assumed per-message latencies of the two links of the cost model (seconds).
LINKS = {"10 Gbit/s Ethernet": (10e9, 25e-6), "100 Gbit/s InfiniBand": (100e9, 2e-6)}


def worker(args):
    """One layout: prints one JSON line (rank 0) with the median step time and comm time."""
    from chainrule.data import load_fashion_mnist
    from chainrule.models import MultiLayerNet
    from chainrule.optim import Adam
    from chainrule.trainer import Trainer

    dtype = np.dtype(args.dtype)
    (x, t), _ = load_fashion_mnist(progress=False)
    x, t = np.ascontiguousarray(x[:args.samples], dtype=dtype), t[:args.samples]
    net = MultiLayerNet(784, NETS[args.model], 10, activation="relu", weight_init_std="relu",
                        dtype=dtype, random_state=0)
    if args.worker == "mpi":
        from mpi4py import MPI

        from chainrule.distributed import DataParallelTrainer, limit_threads

        comm = MPI.COMM_WORLD
        limit_threads(comm)
        trainer = DataParallelTrainer(net, Adam(lr=0.001), comm=comm, random_state=0)
    else:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads)
        comm, trainer = None, Trainer(net, Adam(lr=0.001), random_state=0)
    xb, tb = np.empty((args.batch, 784), dtype), np.empty(args.batch, t.dtype)
    rng = np.random.default_rng(0)
    steps = []
    for epoch in range(args.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x) - args.batch + 1, args.batch):
            np.take(x, order[start:start + args.batch], axis=0, out=xb)
            np.take(t, order[start:start + args.batch], out=tb)
            waited = getattr(trainer, "comm_seconds", 0.0)
            began = time.perf_counter()
            trainer.step(xb, tb)
            steps.append((epoch, time.perf_counter() - began,
                          getattr(trainer, "comm_seconds", 0.0) - waited))
    later = np.array([(s, c) for e, s, c in steps if e > 0])
    result = {"step_ms": 1e3 * float(np.median(later[:, 0])), "steps": len(later)}
    if comm is not None:
        result["comm_ms"] = 1e3 * float(np.median(later[:, 1]))
        result["buffer_bytes"] = int(sum(g.nbytes for g in net.grads.values()) + 4 * dtype.itemsize)
        buf = np.zeros(result["buffer_bytes"] // dtype.itemsize, dtype)
        comm.Barrier()
        began = time.perf_counter()
        for _ in range(1000):
            comm.Allreduce(MPI.IN_PLACE, buf)
        result["bare_allreduce_us"] = 1e6 * (time.perf_counter() - began) / 1000
        if comm.rank != 0:
            return
    print(json.dumps(result))


def run_layout(args, ranks, threads):
    command = [sys.executable, __file__, "--worker", "mpi" if ranks > 1 else "one",
               "--threads", str(threads), "--model", args.model, "--dtype", args.dtype,
               "--batch", str(args.batch), "--epochs", str(args.epochs),
               "--samples", str(args.samples)]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec",
                                                          path=os.path.dirname(sys.executable))
        command = [mpiexec, "-n", str(ranks), *command]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cost_model(per_sample_s, grad_bytes, batch, ranks):
    """Step time and efficiency of K ranks with global batch B, no overlap of comm.

    compute = per_sample * B / K;  comm = 2 (K-1)/K * bytes / bandwidth + 2 (K-1) latency
    (ring all-reduce); efficiency = (per_sample * B) / (K * (compute + comm)).
    """
    rows = []
    for link, (bits, latency) in LINKS.items():
        for k in ranks:
            compute = per_sample_s * batch / k
            comm = 2 * (k - 1) / k * grad_bytes * 8 / bits + 2 * (k - 1) * latency
            rows.append((link, k, compute + comm, per_sample_s * batch / (k * (compute + comm))))
    return rows


def hiding_batch(per_sample_s, grad_bytes, k, bits, latency):
    """Per-rank batch above which computing it takes longer than the Allreduce."""
    comm = 2 * (k - 1) / k * grad_bytes * 8 / bits + 2 * (k - 1) * latency
    return int(np.ceil(comm / per_sample_s))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(NETS), default=None,
                        help="one network (default: both)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["one", "mpi"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    for model in [args.model] if args.model else list(NETS):
        args.model = model
        one1, one2, two1 = (run_layout(args, r, th) for r, th in ((1, 1), (1, 2), (2, 1)))
        print(f"\n{model}, {args.dtype}, global batch {args.batch}, median step of epochs "
              f"2-{args.epochs} ({two1['steps']} steps)")
        print(f"  1 rank  x 1 thread : {one1['step_ms']:7.2f} ms")
        print(f"  1 rank  x 2 threads: {one2['step_ms']:7.2f} ms")
        print(f"  2 ranks x 1 thread : {two1['step_ms']:7.2f} ms   (Allreduce "
              f"{two1['comm_ms']:.3f} ms a step, {two1['comm_ms'] / two1['step_ms']:.1%}; "
              f"{two1['buffer_bytes']:,} bytes; bare Allreduce "
              f"{two1['bare_allreduce_us']:.0f} us)")
        per_sample = one1["step_ms"] / 1e3 / args.batch
        grad_bytes = two1["buffer_bytes"]
        print(f"  cost model, compute {per_sample * 1e6:.1f} us/sample on one core, "
              f"{grad_bytes:,} gradient bytes, global batch {args.batch}:")
        print("    link                      K   step ms  efficiency")
        for link, k, step, eff in cost_model(per_sample, grad_bytes, args.batch,
                                             (2, 4, 8, 16, 32, 64)):
            print(f"    {link:24s} {k:3d} {step * 1e3:9.3f}  {eff:9.0%}")
        for link, (bits, latency) in LINKS.items():
            sizes = [hiding_batch(per_sample, grad_bytes, k, bits, latency) for k in (2, 8, 64)]
            print(f"    per-rank batch where compute = comm on {link}: K=2 {sizes[0]}, "
                  f"K=8 {sizes[1]}, K=64 {sizes[2]}")


if __name__ == "__main__":
    main()
