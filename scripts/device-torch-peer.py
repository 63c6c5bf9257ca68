#!/usr/bin/env python3
"""PyTorch on a CUDA GPU: the peer of softmax-lab's OpenCL backend on the same card, run by
scripts/device-check.sh in the same script run. float32 throughout (TF32 off, PyTorch's default for
matrix products), each op checked on sampled rows against float64 (bench-peers.py's checks) before
it is timed with CUDA events (median of --repeat after --warmup calls):

  xent         F.cross_entropy on stored N×C logits and its gradient (autograd); bytes 8·N·C
  linear-xent  autograd through H·Wᵀ + b (PyTorch's reference path, N×V logits materialized) and, where
               this PyTorch has it, F.linear_cross_entropy (backend torch-cuda-chunked); flops 6·N·D·V

Peak device memory beyond inputs and outputs: torch.cuda.max_memory_allocated after a reset, less
what was allocated before the call and the gradients it returns. Prints bench-peers.py's JSON rows;
with --db records them as bench runs of backend torch-cuda on a device named after the GPU.

    python3 scripts/device-torch-peer.py --shapes 1024x32000 --linear 2048x1024x32000 [--db store.sqlite]
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np
import torch

spec = importlib.util.spec_from_file_location("bench_peers", os.path.join(os.path.dirname(__file__), "bench-peers.py"))
peers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peers)
F = torch.nn.functional


def cuda_timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    samples.sort()
    q = lambda p: float(np.percentile(samples, p))
    return {"min": samples[0], "median": q(50), "p90": q(90), "max": samples[-1]}


def peak_extra_bytes(fn, output_bytes):
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return max(0, torch.cuda.max_memory_allocated() - before - output_bytes)


def xent_row(text, rng, args):
    n, c = (int(v) for v in text.lower().split("x"))
    f = rng.uniform(-8, 8, size=(n, c)).astype(np.float32)
    y = rng.integers(0, c, size=n)
    sampled = sorted({0, n - 1, *rng.integers(0, n, size=6).tolist()})
    ft, yt = torch.from_numpy(f).cuda().requires_grad_(), torch.from_numpy(y).cuda()

    def once():
        ft.grad = None
        F.cross_entropy(ft, yt).backward()
    r = peers.row("xent", text, "torch-cuda", cuda_timed(once, args.warmup, args.repeat), 8 * n * c)
    once()
    r["check"] = peers.check(ft.grad.cpu().numpy(), f, y, sampled)
    ft.grad = None  # else its freeing inside the call would hide as much of the peak
    r["peakExtraBytes"] = peak_extra_bytes(once, 4 * n * c)
    return [r]


def linear_rows(text, rng, args):
    n, d, v = (int(x) for x in text.lower().split("x"))
    scale = (12 / d) ** 0.25  # bench-peers.py's data: logits of a few units
    h = (rng.random((n, d), dtype=np.float32) * 2 - 1) * scale
    w = (rng.random((d, v), dtype=np.float32) * 2 - 1) * scale
    b = rng.uniform(-1, 1, size=v).astype(np.float32)
    y = rng.integers(0, v, size=n)
    sampled = sorted({0, n - 1, *rng.integers(0, n, size=4).tolist()})
    ht = torch.from_numpy(h).cuda().requires_grad_()
    wt = torch.from_numpy(np.ascontiguousarray(w.T)).cuda().requires_grad_()  # PyTorch's (V, D)
    bt, yt = torch.from_numpy(b).cuda().requires_grad_(), torch.from_numpy(y).cuda()
    calls = [("torch-cuda", lambda: F.cross_entropy(F.linear(ht, wt, bt), yt))]
    if hasattr(F, "linear_cross_entropy") and hasattr(torch.nn, "LinearCrossEntropyOptions"):
        options = torch.nn.LinearCrossEntropyOptions()
        calls.append(("torch-cuda-chunked", lambda: F.linear_cross_entropy(ht, wt, yt, linear_bias=bt, options=options)))
    else:
        print(f"torch {torch.__version__} has no F.linear_cross_entropy: its chunked path is not measured", file=sys.stderr)
    rows = []
    for backend, loss in calls:
        def once():
            ht.grad = wt.grad = bt.grad = None
            loss().backward()
        r = peers.row("linear-xent", text, backend, cuda_timed(once, args.warmup, args.repeat), flops=6 * n * d * v)
        once()
        r["check"] = peers.check_linear_xent((None, ht.grad.cpu().numpy(), None, None), h, w, b, y, sampled)
        ht.grad = wt.grad = bt.grad = None
        r["peakExtraBytes"] = peak_extra_bytes(once, 4 * (n * d + d * v + v))
        rows.append(r)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="", help="xent shapes NxC,…")
    ap.add_argument("--linear", default="", help="linear-xent shapes NxDxV,…")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", help="record the results in this softmax-lab store")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device is visible to PyTorch: nothing to measure")
    torch.backends.cuda.matmul.allow_tf32 = False
    rng = np.random.default_rng(args.seed)
    rows = []
    for text in filter(None, args.shapes.split(",")):
        rows += xent_row(text, rng, args)
    for text in filter(None, args.linear.split(",")):
        rows += linear_rows(text, rng, args)
        torch.cuda.empty_cache()
    print(json.dumps(rows, indent=1))
    if args.db:
        peers.record(args.db, rows, args, device=torch.cuda.get_device_name(), device_type="GPU")


if __name__ == "__main__":
    main()
