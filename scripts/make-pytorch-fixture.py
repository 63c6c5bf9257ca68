#!/usr/bin/env python3
"""Writes Tests/CrossEntropyTests/Fixtures/pytorch-cross-entropy.json: inputs and PyTorch's outputs of
torch.nn.functional.cross_entropy for every option, so the tests compare against PyTorch itself.
Softcap and z-loss, which cross_entropy lacks, are written as Liger-Kernel and Cut Cross-Entropy
define them, in torch, around it: f' = s·tanh(f/s) first; each counted row adds λ·logsumexp(f')²,
divided by the counted rows for mean. Predictions are torch.argmax (the first maximum); accuracy
is over the counted rows (for probability targets, against the target row's argmax).

Inputs are float32 values; PyTorch computes in float64 on them, and the gradient comes from autograd.
Run once in a virtual environment with torch installed:
    python3 -m venv "$TORCH_VENV" && "$TORCH_VENV"/bin/pip install torch numpy
    "$TORCH_VENV"/bin/python scripts/make-pytorch-fixture.py
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20261129)
cases = []


def add(name, logits, target, *, soft=False, reduction="mean", ignore_index=-100, weight=None, label_smoothing=0.0,
        softcap=None, z_loss=0.0):
    logits = np.asarray(logits, dtype=np.float32)
    f = torch.tensor(logits.astype(np.float64), requires_grad=True)
    # softmax-lab takes s and λ as float32: give torch the same values.
    softcap = None if softcap is None else float(np.float32(softcap))
    z_loss = float(np.float32(z_loss))
    fc = f if softcap is None else softcap * torch.tanh(f / softcap)
    if soft:
        t = torch.tensor(np.asarray(target, dtype=np.float32).astype(np.float64))
    else:
        t = torch.tensor(np.asarray(target, dtype=np.int64))
    # softmax-lab takes ε as float32: give PyTorch the same value.
    label_smoothing = float(np.float32(label_smoothing))
    w = None if weight is None else torch.tensor(np.asarray(weight, dtype=np.float32).astype(np.float64))
    loss = F.cross_entropy(fc, t, weight=w, reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
    counted = torch.ones(f.shape[0], dtype=torch.bool) if soft else t != ignore_index
    z_rows = z_loss * torch.logsumexp(fc, dim=1) ** 2 * counted
    z = {"none": z_rows, "sum": z_rows.sum(), "mean": z_rows.sum() / counted.sum()}[reduction]
    loss = loss + z
    loss.sum().backward()
    predictions = torch.argmax(f.detach(), dim=1)
    truth = torch.argmax(t, dim=1) if soft else t
    hits = ((predictions == truth) & counted).sum().item()
    cases.append({
        "name": name,
        "logits": logits.tolist(),
        "labels": None if soft else [int(v) for v in target],
        "probabilities": np.asarray(target, dtype=np.float32).tolist() if soft else None,
        "reduction": reduction,
        "ignoreIndex": ignore_index,
        "weights": None if weight is None else np.asarray(weight, dtype=np.float32).tolist(),
        "labelSmoothing": label_smoothing,
        "softcap": softcap,
        "zLoss": z_loss,
        "loss": loss.detach().numpy().reshape(-1).tolist(),
        "zPart": z.detach().numpy().reshape(-1).tolist(),
        "gradient": f.grad.numpy().tolist(),
        "predictions": predictions.tolist(),
        "accuracy": hits / counted.sum().item() if counted.sum().item() > 0 else None,
    })


def logits(n, c, scale=3.0):
    return rng.uniform(-scale, scale, size=(n, c)).astype(np.float32)


def labels(n, c):
    return rng.integers(0, c, size=n)


def probs(n, c):
    p = rng.uniform(0.01, 1, size=(n, c)).astype(np.float32)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


for reduction in ["none", "sum", "mean"]:
    add(f"plain {reduction}", logits(5, 7), labels(5, 7), reduction=reduction)
add("one class", logits(4, 1), [0, 0, 0, 0])
add("equal logits", np.full((3, 6), 2.5), [0, 3, 5])
add("huge logits", logits(4, 9, scale=1e4), labels(4, 9))
add("ignore default", logits(6, 5), [0, -100, 4, 2, -100, 1])
add("ignore custom", logits(6, 5), [0, 2, 4, 2, 3, 1], ignore_index=2)
add("all ignored sum", logits(3, 4), [-100, -100, -100], reduction="sum")
w = rng.uniform(0.2, 3, size=7).astype(np.float32)
for reduction in ["none", "sum", "mean"]:
    add(f"weights {reduction}", logits(6, 7), labels(6, 7), weight=w, reduction=reduction)
    add(f"smoothing {reduction}", logits(6, 7), labels(6, 7), label_smoothing=0.1, reduction=reduction)
    add(f"weights+smoothing+ignore {reduction}", logits(6, 7), [0, 6, -100, 3, 3, 1], weight=w,
        label_smoothing=0.25, reduction=reduction)
    add(f"probabilities {reduction}", logits(5, 7), probs(5, 7), soft=True, reduction=reduction)
    add(f"probabilities+weights+smoothing {reduction}", logits(5, 7), probs(5, 7), soft=True, weight=w,
        label_smoothing=0.2, reduction=reduction)
add("lanes path 37x10 weights+smoothing", logits(37, 10), labels(37, 10), weight=rng.uniform(0.5, 2, size=10),
    label_smoothing=0.05)
add("long rows 2x700", logits(2, 700, scale=20), labels(2, 700))
# Softcap and z-loss, alone, together and with every other option (PyTorch #69339, #73205 and Liger
# #678/#968 were bugs in such combinations).
for reduction in ["none", "sum", "mean"]:
    add(f"softcap {reduction}", logits(6, 7, scale=20), labels(6, 7), softcap=5.0, reduction=reduction)
    add(f"z-loss {reduction}", logits(6, 7), labels(6, 7), z_loss=1e-2, reduction=reduction)
    add(f"softcap+z-loss+weights+smoothing+ignore {reduction}", logits(6, 7, scale=20), [0, 6, -100, 3, 3, 1],
        weight=w, label_smoothing=0.1, softcap=8.0, z_loss=1e-3, reduction=reduction)
    add(f"softcap+z-loss probabilities {reduction}", logits(5, 7, scale=20), probs(5, 7), soft=True, softcap=5.0,
        z_loss=1e-2, reduction=reduction)
add("softcap saturated 3x9", logits(3, 9, scale=1e4), labels(3, 9), softcap=30.0)
add("softcap+z-loss lanes path 37x10", logits(37, 10, scale=10), labels(37, 10), softcap=3.0, z_loss=5e-2)
add("softcap+z-loss long rows 2x700", logits(2, 700, scale=50), labels(2, 700), softcap=15.0, z_loss=1e-4)

out = pathlib.Path(__file__).resolve().parent.parent / "Tests/CrossEntropyTests/Fixtures/pytorch-cross-entropy.json"
out.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, separators=(",", ":")) + "\n")
print(f"wrote {len(cases)} cases to {out}")
