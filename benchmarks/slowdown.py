"""Does training slow down as it goes on? 10 epochs of one run for every optimizer.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/slowdown.py
    python benchmarks/slowdown.py --nets 784-100-10 --optimizers adam,rmsprop --epochs 10

For each network (ReLU, Fashion-MNIST, float32, batch 100) and optimizer, one process
trains ``--epochs`` consecutive epochs of one ``Trainer.fit`` (the Trainer's default
thread policy) and reports every epoch's seconds, the worst later epoch as a multiple of
the second (the issue's bound: 1.10x), and how many subnormal numbers (0 < |v| < the
dtype's smallest normal) the optimizer state, the parameters and the gradients hold at
the end. A later epoch that is slow with no subnormal anywhere is the machine, not the
library: run it again and see whether the slow epoch moves.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPTIMIZERS = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.01,
              "rmsprop": 0.001, "adam": 0.001, "adamw": 0.001}
NETS = {"784-100-10": [100], "784-256-256-256-10": [256, 256, 256]}


def subnormals(arrays):
    import numpy as np

    count = 0
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            tiny = np.finfo(a.dtype).tiny
            count += int(np.count_nonzero((a != 0) & (np.abs(a) < tiny)))
    return count


def one(net, optimizer, epochs, seed):
    """One run in this process: a dict of epoch seconds and subnormal counts."""
    sys.path.insert(0, str(HERE))
    from workloads import load_data

    from chainrule.models import MultiLayerNet
    from chainrule.optim import get_optimizer
    from chainrule.trainer import Trainer

    (x, t), _ = load_data("float32")
    model = MultiLayerNet(784, NETS[net], 10, activation="relu", weight_init_std="relu",
                          dtype="float32", random_state=seed)
    opt = get_optimizer(optimizer, lr=OPTIMIZERS[optimizer])
    trainer = Trainer(model, opt, random_state=seed)
    stamps, threads = [time.perf_counter()], []

    def epoch_end(trainer):
        stamps.append(time.perf_counter())
        threads.append(trainer.blas.current)

    trainer.fit(x, t, max_epoch=epochs, batch_size=100, verbose=0, callbacks=[epoch_end])
    seconds = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    state = opt.state_dict()
    arrays = [a for slot in state["state"].values() for a in slot]
    return {"seconds": seconds, "threads": threads,
            "state_subnormals": subnormals(arrays),
            "param_subnormals": subnormals(model.params.values()),
            "grad_subnormals": subnormals(model.grads.values())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:]))
    p.add_argument("--nets", default=",".join(NETS), help="comma-separated (default both)")
    p.add_argument("--optimizers", default=",".join(OPTIMIZERS),
                   help="comma-separated (default all seven)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--one", nargs=2, metavar=("NET", "OPTIMIZER"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(one(*a.one, a.epochs, a.seed)))
        return
    nets, opts = a.nets.split(","), a.optimizers.split(",")
    bad = [n for n in nets if n not in NETS] + [o for o in opts if o not in OPTIMIZERS]
    if bad or a.epochs < 3:
        p.error(f"unknown {bad}" if bad else "--epochs must be at least 3")
    print("| network | optimizer | lr | threads | epoch 2 s | later epochs s | worst / epoch 2 "
          "| subnormals: state, params, grads |")
    print("|---|---|--:|--:|--:|---|--:|--:|")
    for net in nets:
        for name in opts:
            out = subprocess.run([sys.executable, __file__, "--one", net, name, "--epochs",
                                  str(a.epochs), "--seed", str(a.seed)], check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            s = r["seconds"]
            worst = max(s[2:]) / s[1]
            later = ", ".join(f"{v:.3f}" for v in s[2:])
            used = ",".join(sorted({str(n) for n in r["threads"]}))
            print(f"| {net} | {name} | {OPTIMIZERS[name]:g} | {used} | {s[1]:.3f} | {later} "
                  f"| {worst:.2f}× | {r['state_subnormals']}, {r['param_subnormals']}, "
                  f"{r['grad_subnormals']} |", flush=True)


if __name__ == "__main__":
    main()
