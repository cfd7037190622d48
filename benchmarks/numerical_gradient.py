"""Central differences of a whole network: the plain loop and the fast path, side by side.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/numerical_gradient.py
    python benchmarks/numerical_gradient.py --plain-repeats 0    # the fast path alone, seconds

``model.numerical_gradient(x, t)`` of ``TwoLayerNet``/``MultiLayerNet`` computes every
parameter's (L(θ + h e_i) − L(θ − h e_i)) / 2h, h = 1e-4, from what each one-element
perturbation changes (``chainrule.fastgrad``); ``method='plain'`` is the loop that
perturbs each element and runs the whole network twice. Two cases:

* book 1, ch. 4 (``two_layer_net.py``): TwoLayerNet(784, 100, 10), 100 random images
  (uniform in [0, 1)), random soft targets (uniform rows that do not sum to one);
* MultiLayerNet(784, [100, 100], 10) with batch normalisation (training mode) and weight
  decay 0.1, 50 random images, labels.

float64, 2 BLAS threads (unless OPENBLAS_NUM_THREADS says otherwise). The fast path runs
``--repeats`` times (median and best reported), the plain loop ``--plain-repeats`` times
(minutes each). Agreement, per array: the largest |difference| over the array's largest
|gradient| (over a thousandth of the model's largest, for an array whose gradient is
zero: the biases right before batch normalisation); the worst array is reported. Against
backprop, also how many elements differ by more than 1e-6 of their array's largest: a
ReLU whose input is within the step of its kink makes every central difference differ
from the derivative there, the plain loop's as much as the fast path's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from chainrule.models import MultiLayerNet, TwoLayerNet  # noqa: E402


def book_case():
    """TwoLayerNet(784, 100, 10) on 100 random images with random soft targets."""
    rng = np.random.default_rng(2)
    net = TwoLayerNet(784, 100, 10, random_state=0)
    return net, rng.random((100, 784)), rng.random((100, 10))


def batchnorm_case():
    """MultiLayerNet(784, [100, 100], 10), batch norm, weight decay 0.1, 50 samples."""
    rng = np.random.default_rng(3)
    net = MultiLayerNet(784, [100, 100], 10, use_batchnorm=True, weight_decay_lambda=0.1,
                        random_state=0)
    return net, rng.random((50, 784)), rng.integers(0, 10, 50)


CASES = {
    "TwoLayerNet(784, 100, 10), 100 images, soft targets": book_case,
    "MultiLayerNet(784, [100, 100], 10), batch norm, decay 0.1, 50 images": batchnorm_case,
}


def timed(call, repeats):
    """(result of the last call, seconds of each call)."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return result, seconds


def worst(a, b):
    """max over arrays of max |a - b| / (the array's largest |b|, floored as described)."""
    overall = max(float(np.abs(v).max()) for v in b.values())
    return max(float(np.abs(a[k] - b[k]).max()) / max(float(np.abs(b[k]).max()), 1e-3 * overall)
               for k in b)


def off(a, b, rtol=1e-6):
    """Elements of a that differ from b by more than rtol of their array's largest |b|."""
    return sum(int((np.abs(a[k] - b[k]) > rtol * np.abs(b[k]).max()).sum()) for k in b)


def run_case(make, repeats, plain_repeats):
    net, x, t = make()
    fast, fast_s = timed(lambda: net.numerical_gradient(x, t), repeats)
    backprop = net.gradient(x, t)
    row = {"params": net.num_params, "fast": fast_s, "fast_vs_backprop": worst(fast, backprop),
           "fast_off": off(fast, backprop), "plain": []}
    if plain_repeats:
        plain, row["plain"] = timed(lambda: net.numerical_gradient(x, t, method="plain"),
                                    plain_repeats)
        row.update(fast_vs_plain=worst(fast, plain), plain_vs_backprop=worst(plain, backprop),
                   plain_off=off(plain, backprop))
    return row


def seconds(values):
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    return f"{np.median(values):.3g} (best {min(values):.3g})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fast-path runs (default 5)")
    parser.add_argument("--plain-repeats", type=int, default=1,
                        help="plain-loop runs, minutes each (default 1; 0: skip)")
    args = parser.parse_args(argv)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            print(f"warning: {name} is set; run with env -u {name} (benchmarks/README.md)")
    load = os.getloadavg()[0]
    rows = {name: run_case(make, args.repeats, args.plain_repeats)
            for name, make in CASES.items()}
    print(f"float64, {os.environ['OPENBLAS_NUM_THREADS']} BLAS threads, h = 1e-4; "
          f"load average (1 min) {load:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"fast path: median of {args.repeats}, plain loop: {args.plain_repeats} run(s)\n")
    print("| case | parameters | plain loop s | fast path s | speed-up | fast vs plain | "
          "fast vs backprop (elements > 1e-6) | plain vs backprop (elements > 1e-6) |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, r in rows.items():
        speedup = (f"{np.median(r['plain']) / np.median(r['fast']):,.0f}×" if r["plain"]
                   else "–")
        vs_plain = f"{r['fast_vs_plain']:.1e}" if r["plain"] else "–"
        plain_bp = (f"{r['plain_vs_backprop']:.1e} ({r['plain_off']})" if r["plain"]
                    else "–")
        print(f"| {name} | {r['params']:,} | {seconds(r['plain'])} | {seconds(r['fast'])} | "
              f"{speedup} | {vs_plain} | {r['fast_vs_backprop']:.1e} ({r['fast_off']}) | "
              f"{plain_bp} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
