#!/usr/bin/env python3
"""Writes Tests/CrossEntropyTests/Fixtures/pytorch-linear-cross-entropy.json: inputs and PyTorch's
outputs of torch.nn.functional.linear_cross_entropy (the reference path, float64, gradients by
autograd) for the options it has, and, for softcap and z-loss, which it lacks, the same logits
H·Wᵀ + b through the formulas of make-pytorch-fixture.py (f' = s·tanh(f/s); λ·logsumexp(f')² per
counted row). W is written in softmax-lab's D×V layout (the transpose of PyTorch's (V, D) weight),
and so is ∂W.

Inputs are float32 values; PyTorch computes in float64 on them. Run once with torch installed:
    "$TORCH_VENV"/bin/python scripts/make-linear-fixture.py
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20261202)
cases = []


def add(name, n, d, v, *, bias=True, reduction="mean", ignore_index=-100, ignored=0, weight=False, label_smoothing=0.0,
        softcap=None, z_loss=0.0, scale=1.0):
    h = (rng.standard_normal((n, d)) * scale).astype(np.float32)
    w = (rng.standard_normal((v, d)) / np.sqrt(d)).astype(np.float32)  # PyTorch's (V, D)
    b = rng.standard_normal(v).astype(np.float32) if bias else None
    y = rng.integers(0, v, size=n)
    y[:ignored] = ignore_index
    cw = rng.uniform(0.2, 2.0, size=v).astype(np.float32) if weight else None
    ht = torch.tensor(h.astype(np.float64), requires_grad=True)
    wt = torch.tensor(w.astype(np.float64), requires_grad=True)
    bt = torch.tensor(b.astype(np.float64), requires_grad=True) if bias else None
    yt = torch.tensor(y)
    cwt = torch.tensor(cw.astype(np.float64)) if weight else None
    label_smoothing = float(np.float32(label_smoothing))
    if softcap is None and z_loss == 0:
        loss = F.linear_cross_entropy(ht, wt, yt, linear_bias=bt, weight=cwt, reduction=reduction, ignore_index=ignore_index,
                                      label_smoothing=label_smoothing)
    else:
        softcap = None if softcap is None else float(np.float32(softcap))
        z_loss = float(np.float32(z_loss))
        f = F.linear(ht, wt, bt)
        fc = f if softcap is None else softcap * torch.tanh(f / softcap)
        loss = F.cross_entropy(fc, yt, weight=cwt, reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
        counted = yt != ignore_index
        z = z_loss * torch.logsumexp(fc, dim=1).square() * counted
        loss = loss + (z if reduction == "none" else z.sum() / (counted.sum() if reduction == "mean" else 1))
    (loss.sum() if reduction == "none" else loss).backward()
    cases.append({
        "name": name, "hidden": h.tolist(), "classifier": w.T.tolist(), "bias": None if b is None else b.tolist(),
        "labels": y.tolist(), "reduction": reduction, "ignoreIndex": ignore_index, "weights": None if cw is None else cw.tolist(),
        "labelSmoothing": label_smoothing, "softcap": softcap, "zLoss": z_loss,
        "loss": loss.detach().reshape(-1).tolist(),
        "hiddenGradient": ht.grad.tolist(), "classifierGradient": wt.grad.T.tolist(),
        "biasGradient": None if bt is None else bt.grad.tolist(),
    })


add("plain", 6, 5, 9)
add("no bias", 4, 3, 11, bias=False)
add("one row, one feature", 1, 1, 7)
add("one class", 3, 4, 1)
add("sum", 5, 6, 13, reduction="sum")
add("none", 5, 6, 13, reduction="none")
add("ignore_index -100", 7, 4, 10, ignored=3)
add("ignore_index 2, sum", 7, 4, 10, ignore_index=2, ignored=2, reduction="sum")
add("all ignored, sum", 3, 4, 6, ignored=3, reduction="sum")
add("class weights", 6, 5, 12, weight=True)
add("label smoothing 0.1", 6, 5, 12, label_smoothing=0.1)
add("weights + smoothing + ignore", 8, 5, 12, weight=True, label_smoothing=0.2, ignored=2)
add("softcap 3", 6, 5, 12, softcap=3.0, scale=4.0)
add("z-loss 0.01", 6, 5, 12, z_loss=0.01)
add("softcap + z-loss + smoothing + weights, none", 6, 5, 12, softcap=2.5, z_loss=0.02, label_smoothing=0.1, weight=True,
    reduction="none", scale=3.0)
add("large logits", 5, 4, 20, scale=300.0)
add("V above a tile", 4, 7, 300)

out = pathlib.Path(__file__).resolve().parent.parent / "Tests/CrossEntropyTests/Fixtures/pytorch-linear-cross-entropy.json"
out.write_text(json.dumps({"generator": "scripts/make-linear-fixture.py", "torch": torch.__version__, "cases": cases}) + "\n")
print(f"wrote {len(cases)} cases to {out}")
