#!/usr/bin/env python3
"""Times the peers of softmax-lab on the same operations and shapes: numpy always, PyTorch and JAX
when they are importable. Prints JSON rows like `softmax-lab bench --json` (op, shape, backend,
timing in ms, GB/s or GFLOP/s); with --db, also records them in the experiment store as bench runs
of backends numpy, torch, jax, so `bench_results` and `runs compare` show them beside SoftmaxLab.

    python3 scripts/bench-peers.py --shapes 4096x1000,1024x32000 --features 1024 --repeat 20 [--db softmax-lab.sqlite]

With --softcap S and/or --z-loss λ the loss is that of `softmax-lab bench --softcap S --z-loss λ` (op
xent+softcap, xent+z, xent+softcap+z), written as Liger-Kernel and Cut Cross-Entropy define it
(f' = S·tanh(f/S), then cross-entropy plus λ·mean(logsumexp(f')²)): numpy and PyTorch only.
Each peer's loss+gradient is checked against a float64 computation on sampled rows first.

With --dtype f16 or bf16 (op xent) the logits are stored in that type and PyTorch computes in it
(its cross_entropy and autograd on float16/bfloat16 tensors; the gradient comes back in the same
type), as `softmax-lab bench --dtype` does (op xent-f16, xent-bf16; bytes: 2 per value read and 2
written). The check is then against float64 computed from the same 16-bit values, to within four
rounding steps of the storage type times the row's largest gradient entry. numpy and JAX are skipped
(numpy has no bfloat16, and its float16 arithmetic is a software loop).
"""
import argparse
import json
import os
import platform
import socket
import sqlite3
import sys
import time
import uuid
from datetime import datetime, timezone

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


def numpy_xent(f, y, softcap=None, z_loss=0.0):
    # The textbook vectorized form: subtract max, exp, normalize, subtract one-hot, mean; the
    # softcap before it and the z part's 2λ·lse·p after it when asked for.
    if softcap is not None:
        t = np.tanh(f / softcap)
        f = softcap * t
    m = f.max(axis=1, keepdims=True)
    e = np.exp(f - m)
    s = e.sum(axis=1, keepdims=True)
    p = e / s
    n = f.shape[0]
    lse = np.log(s[:, 0]) + m[:, 0]
    loss = float(np.mean(lse - f[np.arange(n), y]) + z_loss * np.mean(lse * lse))
    g = p * (1 + 2 * z_loss * lse[:, None]) if z_loss else p
    g[np.arange(n), y] -= 1
    g /= n
    if softcap is not None:
        g *= 1 - t * t
    return loss, g


# The storage type's spacing of values just below 1 (its rounding step there).
STORAGE_EPSILON = {"f32": 0.0, "f16": 2.0 ** -11, "bf16": 2.0 ** -8}


def check(grad, f, y, rows, softcap=None, z_loss=0.0, dtype="f32"):
    """'ok', or the first sampled row whose gradient (times N) differs from float64 (for 16-bit
    storage, by more than 4 rounding steps of the row's largest entry)."""
    n = f.shape[0]
    for i in rows:
        x = f[i].astype(np.float64)
        if softcap is not None:
            x = softcap * np.tanh(x / softcap)
        p = np.exp(x - x.max())
        p /= p.sum()
        lse = np.log(np.exp(x - x.max()).sum()) + x.max()
        p = p * (1 + 2 * z_loss * lse)
        p[y[i]] -= 1
        if softcap is not None:
            p *= 1 - np.tanh(f[i].astype(np.float64) / softcap) ** 2
        got = np.asarray(grad[i], dtype=np.float64) * n
        atol = max(2e-6, 4 * STORAGE_EPSILON[dtype]) * max(np.abs(p).max(), 1e-3)
        if not np.allclose(got, p, rtol=1e-4, atol=atol):
            return f"wrong: row {i}"
    return "ok"


def rss_bytes(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def pin_malloc():
    """glibc's mmap threshold fixed at 128 KiB and its free heap returned, as softmax-lab bench does:
    a freed large block goes back to the kernel, so an earlier call's memory cannot hide the next
    call's peak."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
        libc.malloc_trim(0)  # what earlier calls freed into the heap goes back too
    except OSError:
        pass


def peak_extra_bytes(fn, output_bytes, release=None):
    """Peak resident memory of one call beyond what was resident before it (its inputs) and the
    outputs it allocates: the process high-water mark reset first (Linux /proc/self/clear_refs).
    `release` drops an earlier call's outputs first, for a call that would free them itself (else
    they would be counted in 'before' and their freeing would hide as much of its peak)."""
    if release:
        release()
    pin_malloc()
    before = rss_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    fn()
    return max(0, rss_bytes("VmHWM") - before - output_bytes)


def numpy_linear_xent(h, w, b, y):
    # The materialized path: the N×V logits and their gradient, then the two products and the sum.
    f = h @ w
    f += b
    loss, g = numpy_xent(f, y)
    return loss, g @ w.T, h.T @ g, g.sum(axis=0)


def check_linear_xent(got, h, w, b, y, rows):
    """'ok', or the first sampled row whose ∂H row (times N) differs from float64."""
    _, dh, _, _ = got
    n = h.shape[0]
    w64 = w.astype(np.float64)
    for i in rows:
        f = h[i].astype(np.float64) @ w64 + b
        p = np.exp(f - f.max())
        p /= p.sum()
        p[y[i]] -= 1
        want = w64 @ p
        if not np.allclose(np.asarray(dh[i], dtype=np.float64) * n, want, rtol=1e-3, atol=1e-4 * max(np.abs(want).max(), 1e-6)):
            return f"wrong: row {i} of dH"
    return "ok"


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(db, rows, args, device=None, device_type="CPU"):
    """One finished bench run per peer, its timings, and a device row named after the peer: this
    machine's CPU, or `device` (e.g. a GPU's name) of `device_type`."""
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA foreign_keys = ON")
    if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'timings'").fetchone():
        sys.exit(f"{db} has no softmax-lab schema; create it first, e.g. `softmax-lab runs list --db {db}`")
    has_peak = any(c[1] == "peak_extra_bytes" for c in con.execute("PRAGMA table_info(timings)"))
    host = socket.gethostname()
    cpu = device or next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    for peer in sorted({r["backend"] for r in rows}):
        # torch-chunked is torch's F.linear_cross_entropy with LinearCrossEntropyOptions.
        version = {"numpy": np.__version__}.get(peer) or __import__(peer.split("-")[0]).__version__
        with con:
            con.execute("""INSERT OR IGNORE INTO devices (backend, platform, name, vendor, driver_version, type, host, first_seen_at)
                           VALUES (?, '', ?, ?, ?, ?, ?, ?)""", (peer, f"{cpu} ({peer} {version})", cpu, version, device_type, host, now()))
            device = con.execute("SELECT id FROM devices WHERE backend = ? AND platform = '' AND name = ? AND driver_version = ? AND host = ?",
                                 (peer, f"{cpu} ({peer} {version})", version, host)).fetchone()[0]
            run = con.execute("""INSERT INTO runs (uuid, kind, name, status, started_at, ended_at, device_id, backend, config, seed,
                                 host, pid, tool_version, command_line) VALUES (?, 'bench', ?, 'finished', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                              (str(uuid.uuid4()), f"peer {peer}", now(), now(), device, peer, json.dumps(vars(args)), args.seed, host,
                               os.getpid(), f"bench-peers.py ({peer} {version})", " ".join(sys.argv))).lastrowid
            for r in (r for r in rows if r["backend"] == peer):
                t = r["timing"]
                con.execute("""INSERT INTO timings (run_id, op, shape, backend, device_id, samples, min_ms, median_ms, p90_ms, max_ms,
                               bytes, flops, gb_per_s, gflop_per_s, percent_of_bandwidth, timing, check_result)
                               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'wall', ?)""",
                            (run, r["op"], r["shape"], peer, device, args.repeat, t["min"], t["median"], t["p90"], t["max"],
                             r["bytes"], r["flops"], r["gbPerSecond"], r["gflopPerSecond"], r.get("percentOfCopy"), r.get("check", "ok")))
                if r.get("peakExtraBytes") is not None and has_peak:
                    con.execute("UPDATE timings SET peak_extra_bytes = ? WHERE id = last_insert_rowid()", (r["peakExtraBytes"],))
        print(f"recorded {peer} as run {run} in {db}", file=sys.stderr)


def linear_xent_rows(text, rng, args, torch):
    """numpy's materialized path, PyTorch's reference path (autograd through the logits) and its
    chunked F.linear_cross_entropy, each checked and timed; then, after every timing (pinning
    malloc's threshold changes how the peers allocate), each one's peak memory beyond its inputs
    and outputs on one more call."""
    n, d, v = (int(x) for x in text.lower().split("x"))
    scale = (12 / d) ** 0.25
    h = rng.uniform(-scale, scale, size=(n, d)).astype(np.float32)
    w = rng.uniform(-scale, scale, size=(d, v)).astype(np.float32)
    b = rng.uniform(-1, 1, size=v).astype(np.float32)
    y = rng.integers(0, v, size=n)
    sampled = sorted({0, n - 1, *rng.integers(0, n, size=4).tolist()})
    flops, out_bytes = 6 * n * d * v, 4 * (n * d + d * v + v)
    calls = [("numpy", lambda: numpy_linear_xent(h, w, b, y), lambda: numpy_linear_xent(h, w, b, y)[1])]
    release = None
    if torch is not None:
        F = torch.nn.functional
        ht = torch.from_numpy(h).requires_grad_()
        # PyTorch's layout: (V, D), the transpose of ours, contiguous.
        wt = torch.from_numpy(np.ascontiguousarray(w.T)).requires_grad_()
        bt, yt = torch.from_numpy(b).requires_grad_(), torch.from_numpy(y)

        def release():
            ht.grad = wt.grad = bt.grad = None

        def torch_call(options):
            def once():
                release()
                F.linear_cross_entropy(ht, wt, yt, linear_bias=bt, options=options).backward()
            return once

        def hidden_gradient(once):
            def run():
                once()
                return ht.grad.numpy()
            return run
        for backend, options in (("torch", None), ("torch-chunked", torch.nn.LinearCrossEntropyOptions())):
            once = torch_call(options)
            calls.append((backend, once, hidden_gradient(once)))
    calls = [c for c in calls if args.peers is None or c[0] in args.peers.split(",")]
    rows = []
    if args.warmup == 0 and args.repeat == 1:
        # A shape whose one call takes minutes: that call is the checked, timed and measured one.
        for backend, _, gradient in calls:
            result = {}

            def timed_call():
                start = time.perf_counter()
                result["dh"] = gradient()
                result["ms"] = (time.perf_counter() - start) * 1e3
            peak = peak_extra_bytes(timed_call, out_bytes, release if backend != "numpy" else None)
            t = {"min": result["ms"], "median": result["ms"], "p90": result["ms"], "max": result["ms"]}
            r = row("linear-xent", text, backend, t, flops=flops)
            r["check"] = check_linear_xent((None, result["dh"], None, None), h, w, b, y, sampled)
            r["peakExtraBytes"] = peak
            rows.append(r)
        return rows
    for backend, once, gradient in calls:
        r = row("linear-xent", text, backend, timed(once, args.warmup, args.repeat), flops=flops)
        r["check"] = check_linear_xent((None, gradient(), None, None), h, w, b, y, sampled)
        rows.append(r)
    for r, (backend, once, _) in zip(rows, calls):
        r["peakExtraBytes"] = peak_extra_bytes(once, out_bytes, release if backend != "numpy" else None)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="4096x1000,1024x32000,256x128000,65536x10")
    ap.add_argument("--features", type=int, default=1024)
    ap.add_argument("--op", choices=["xent", "linear", "all", "linear-xent"], default="all",
                    help="linear-xent: the fused linear cross-entropy, --shapes NxDxV (numpy materialized, PyTorch reference and chunked)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", help="record the results in this softmax-lab store")
    ap.add_argument("--peers", help="linear-xent: which of numpy,torch,torch-chunked to run (default all; the materialized ones need the N×V logits several times over)")
    ap.add_argument("--softcap", type=float, help="softcap S > 0 (op xent+softcap)")
    ap.add_argument("--z-loss", type=float, default=0.0, help="z-loss λ ≥ 0 (op xent+z)")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32",
                    help="storage of the logits and gradient for op xent (f16, bf16: PyTorch only)")
    args = ap.parse_args()
    if args.dtype != "f32" and args.op != "xent":
        sys.exit(f"--dtype {args.dtype} applies to --op xent (the linear layer is float32)")
    if args.softcap is not None and not args.softcap > 0:
        sys.exit(f"--softcap must be above 0, got {args.softcap}")
    if not args.z_loss >= 0:
        sys.exit(f"--z-loss must be at least 0, got {args.z_loss}")
    extended = args.softcap is not None or args.z_loss > 0
    half = args.dtype != "f32"
    xent_op = ("xent" + ("+softcap" if args.softcap is not None else "") + ("+z" if args.z_loss > 0 else "")
               + ("-" + args.dtype if half else ""))
    value_bytes = 2 if half else 4
    cap, lam = args.softcap, args.z_loss

    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    try:
        import jax
        import jax.numpy as jnp

        def jax_loss(f, y):
            # mean cross-entropy; jax.grad gives the gradient, jit fuses what XLA can.
            lse = jax.nn.logsumexp(f, axis=1)
            return jnp.mean(lse - jnp.take_along_axis(f, y[:, None], axis=1)[:, 0])
        jax_xent = jax.jit(jax.value_and_grad(jax_loss))
    except ImportError:
        jax = None

    rng = np.random.default_rng(args.seed)
    rows = []
    if args.op == "linear-xent":
        for text in args.shapes.split(","):
            rows += linear_xent_rows(text, rng, args, torch)
        print(json.dumps(rows, indent=1))
        if args.db:
            record(args.db, rows, args)
        return
    for text in args.shapes.split(","):
        n, c = (int(v) for v in text.lower().split("x"))
        if args.op in ("xent", "all"):
            f = rng.uniform(-8, 8, size=(n, c)).astype(np.float32)
            y = rng.integers(0, c, size=n)
            sampled = sorted({0, n - 1, *rng.integers(0, n, size=6).tolist()})
            if half:
                if torch is None:
                    sys.exit(f"--dtype {args.dtype} needs PyTorch, which is not importable here")
                tdtype = {"f16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
                # f holds exactly the 16-bit values, so the float64 check sees what PyTorch got.
                f = torch.from_numpy(f).to(tdtype).float().numpy()
                stored = torch.from_numpy(f).to(tdtype)
                dst = torch.empty_like(stored)
                copy = row("copy-" + args.dtype, text, "torch", timed(lambda: dst.copy_(stored), args.warmup, args.repeat),
                           2 * value_bytes * n * c)
            else:
                dst = np.empty_like(f)
                copy = row("copy", text, "numpy", timed(lambda: np.copyto(dst, f), args.warmup, args.repeat), 8 * n * c)
            rows.append(copy)
            if not half:
                r = row(xent_op, text, "numpy", timed(lambda: numpy_xent(f, y, cap, lam), args.warmup, args.repeat), 8 * n * c)
                r["check"] = check(numpy_xent(f, y, cap, lam)[1], f, y, sampled, cap, lam)
                rows.append(r)
            if torch is not None:
                ft, yt = (stored.clone() if half else torch.from_numpy(f)).requires_grad_(), torch.from_numpy(y)

                def torch_xent():
                    ft.grad = None
                    logits = ft if cap is None else cap * torch.tanh(ft / cap)
                    loss = torch.nn.functional.cross_entropy(logits, yt)
                    if lam > 0:
                        loss = loss + lam * torch.logsumexp(logits, dim=1).square().mean()
                    loss.backward()
                r = row(xent_op, text, "torch", timed(torch_xent, args.warmup, args.repeat), 2 * value_bytes * n * c)
                torch_xent()
                r["check"] = check(ft.grad.float().numpy(), f, y, sampled, cap, lam, args.dtype)
                rows.append(r)
            if jax is not None and not extended and not half:
                fj, yj = jnp.asarray(f), jnp.asarray(y)
                run_jax = lambda: jax.block_until_ready(jax_xent(fj, yj))
                r = row("xent", text, "jax", timed(run_jax, args.warmup, args.repeat), 8 * n * c)
                r["check"] = check(np.asarray(run_jax()[1]), f, y, sampled)
                rows.append(r)
            for r in rows[-4:]:
                if r["op"] == xent_op and r["gbPerSecond"]:
                    r["percentOfCopy"] = 100 * r["gbPerSecond"] / copy["gbPerSecond"]
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
    if args.db:
        record(args.db, rows, args)


if __name__ == "__main__":
    main()
