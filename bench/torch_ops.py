#!/usr/bin/env python3
"""times the `cudalab bench` cases through PyTorch on the same GPU, for the
ratio column of `cudalab bench --compare-torch`. reads a JSON list of case
specs on stdin, prints a JSON list of median milliseconds (null where an op
has no counterpart). fp32 throughout: tf32 is switched off so the comparison
is like for like."""
import json
import statistics
import sys

import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")


def timed(fn, min_ms=300.0):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    # several runs per sample for short ops, as the cudalab side does
    inner = 1
    while True:
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(inner):
            fn()
        b.record()
        torch.cuda.synchronize()
        if a.elapsed_time(b) >= 1.0 or inner >= 1024:
            break
        inner *= 4
    samples, total = [], 0.0
    while len(samples) < 5 or total < min_ms:
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(inner):
            fn()
        b.record()
        torch.cuda.synchronize()
        ms = a.elapsed_time(b)
        samples.append(ms / inner)
        total += ms
        if len(samples) >= 200:
            break
    return statistics.median(samples)


def rnd(*shape):
    return torch.rand(*shape, device=dev) * 2 - 1


def case_fn(s):
    op = s["op"]
    if op == "gemm":
        a = rnd(s["k"], s["m"]) if s["ta"] else rnd(s["m"], s["k"])
        b = rnd(s["n"], s["k"]) if s["tb"] else rnd(s["k"], s["n"])
        c = torch.empty(s["m"], s["n"], device=dev)
        aa = a.t() if s["ta"] else a
        bb = b.t() if s["tb"] else b
        return lambda: torch.mm(aa, bb, out=c)
    if op.startswith("conv2d"):
        n, c, h, k, r, pad = s["n"], s["c"], s["h"], s["k"], s["r"], s["pad"]
        x, w, bias = rnd(n, c, h, h), rnd(k, c, r, r), rnd(k)
        p = h + 2 * pad - r + 1
        dy = rnd(n, k, p, p)
        if op == "conv2d":
            return lambda: F.conv2d(x, w, bias, padding=pad)
        if op == "conv2d_bwd_input":
            return lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, padding=pad)
        return lambda: (torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=pad), dy.sum((0, 2, 3)))
    if op in ("maxpool2d", "maxpool2d_bwd", "relu"):
        x = rnd(s["n"], s["c"], s["h"], s["h"])
        if op == "relu":
            return lambda: torch.relu(x)
        y, idx = F.max_pool2d(x, 2, 2, return_indices=True)
        if op == "maxpool2d":
            return lambda: F.max_pool2d(x, 2, 2, return_indices=True)
        return lambda: torch.ops.aten.max_pool2d_with_indices_backward(y, x, [2, 2], [2, 2], [0, 0], [1, 1], False, idx)
    if op == "softmax_xent":
        logits = rnd(s["n"], s["classes"]).requires_grad_()
        labels = torch.arange(s["n"], device=dev) * 7 % s["classes"]

        def run():
            loss = F.cross_entropy(logits, labels)
            loss.backward()
        return run
    if op == "adam":
        p = torch.nn.Parameter(rnd(s["params"]))
        p.grad = rnd(s["params"])
        opt = torch.optim.Adam([p], lr=1e-3)
        return opt.step
    return None


def main():
    specs = json.load(sys.stdin)
    out = []
    for s in specs:
        fn = case_fn(s)
        out.append(None if fn is None else timed(fn))
    json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "ms": out}, sys.stdout)


if __name__ == "__main__":
    main()
