#!/usr/bin/env python3
"""Times the peers of softmax-lab on the same operations and shapes: numpy always, PyTorch when it
is importable. Prints JSON rows like `softmax-lab bench --json` (op, shape, backend, timing in ms,
GB/s or GFLOP/s).

    python3 scripts/bench-peers.py --shapes 4096x1000,1024x32000 --features 1024 --repeat 20
"""
import argparse
import json
import time

import numpy as np


def timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    q = lambda p: float(np.percentile(samples, p))
    return {"min": samples[0], "median": q(50), "p90": q(90), "max": samples[-1]}


def row(op, shape, backend, timing, nbytes=0, flops=0):
    seconds = timing["median"] / 1e3
    return {"op": op, "shape": shape, "backend": backend, "timing": timing, "bytes": nbytes, "flops": flops,
            "gbPerSecond": nbytes / seconds / 1e9 if nbytes else None,
            "gflopPerSecond": flops / seconds / 1e9 if flops else None}


def numpy_xent(f, y):
    # The textbook vectorized form: subtract max, exp, normalize, subtract one-hot, mean.
    m = f.max(axis=1, keepdims=True)
    e = np.exp(f - m)
    s = e.sum(axis=1, keepdims=True)
    p = e / s
    n = f.shape[0]
    loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - f[np.arange(n), y]))
    p[np.arange(n), y] -= 1
    p /= n
    return loss, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="4096x1000,1024x32000,256x128000,65536x10")
    ap.add_argument("--features", type=int, default=1024)
    ap.add_argument("--op", choices=["xent", "linear", "all"], default="all")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None

    rng = np.random.default_rng(args.seed)
    rows = []
    for text in args.shapes.split(","):
        n, c = (int(v) for v in text.lower().split("x"))
        if args.op in ("xent", "all"):
            f = rng.uniform(-8, 8, size=(n, c)).astype(np.float32)
            y = rng.integers(0, c, size=n)
            dst = np.empty_like(f)
            rows.append(row("copy", text, "numpy", timed(lambda: np.copyto(dst, f), args.warmup, args.repeat), 8 * n * c))
            rows.append(row("xent", text, "numpy", timed(lambda: numpy_xent(f, y), args.warmup, args.repeat), 8 * n * c))
            if torch is not None:
                ft, yt = torch.from_numpy(f).requires_grad_(), torch.from_numpy(y)

                def torch_xent():
                    ft.grad = None
                    torch.nn.functional.cross_entropy(ft, yt).backward()
                rows.append(row("xent", text, "torch", timed(torch_xent, args.warmup, args.repeat), 8 * n * c))
        if args.op in ("linear", "all"):
            d = args.features
            x = rng.uniform(-1, 1, size=(n, d)).astype(np.float32)
            w = rng.uniform(-1, 1, size=(d, c)).astype(np.float32)
            g = rng.uniform(-1, 1, size=(n, c)).astype(np.float32)
            label = f"{n}x{d}x{c}"
            flops = 2 * n * d * c
            rows.append(row("linear-forward", label, "numpy", timed(lambda: x @ w, args.warmup, args.repeat), flops=flops))
            rows.append(row("linear-backward", label, "numpy", timed(lambda: x.T @ g, args.warmup, args.repeat), flops=flops))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
