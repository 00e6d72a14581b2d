#!/usr/bin/env python3
"""times the `cudalab bench` cases through PyTorch on the same GPU, for the
ratio column of `cudalab bench --compare-torch`. reads a JSON list of case
specs on stdin, prints {"torch", "device", "ms", "what"}: per case the median
milliseconds (null where an op has no counterpart) and what PyTorch ran for it.
fp32 throughout: tf32 is switched off so the comparison is like for like.

cudalab's softmax_xent and adam cases are one or two addon calls that do the
whole job in fused kernels. timing PyTorch's everyday spelling of them
(F.cross_entropy + loss.backward() through autograd, optimizer.step() in
Python) would mostly time PyTorch's Python and autograd overhead, so they are
compared against PyTorch's own fused paths: the loss and its gradient written
out and compiled by torch.compile, and the fused Adam kernel that
Adam(fused=True) runs, called directly. where those are not available the
fallback is named in "what"."""
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
    """(the function to time, what it runs in PyTorch's words), or None where
    PyTorch has no counterpart"""
    op = s["op"]
    if op == "gemm":
        a = rnd(s["k"], s["m"]) if s["ta"] else rnd(s["m"], s["k"])
        b = rnd(s["n"], s["k"]) if s["tb"] else rnd(s["k"], s["n"])
        c = torch.empty(s["m"], s["n"], device=dev)
        aa = a.t() if s["ta"] else a
        bb = b.t() if s["tb"] else b
        return (lambda: torch.mm(aa, bb, out=c)), "torch.mm (cuBLAS)"
    if op.startswith("conv2d"):
        n, c, h, k, r, pad = s["n"], s["c"], s["h"], s["k"], s["r"], s["pad"]
        x, w, bias = rnd(n, c, h, h), rnd(k, c, r, r), rnd(k)
        p = h + 2 * pad - r + 1
        dy = rnd(n, k, p, p)
        if op == "conv2d":
            return (lambda: F.conv2d(x, w, bias, padding=pad)), "F.conv2d (cuDNN)"
        if op == "conv2d_bwd_input":
            return (lambda: torch.nn.grad.conv2d_input(x.shape, w, dy, padding=pad)), "torch.nn.grad.conv2d_input (cuDNN)"
        return ((lambda: (torch.nn.grad.conv2d_weight(x, w.shape, dy, padding=pad), dy.sum((0, 2, 3)))),
                "torch.nn.grad.conv2d_weight (cuDNN) and the bias gradient")
    if op in ("maxpool2d", "maxpool2d_bwd", "relu"):
        x = rnd(s["n"], s["c"], s["h"], s["h"])
        if op == "relu":
            return (lambda: torch.relu(x)), "torch.relu"
        y, idx = F.max_pool2d(x, 2, 2, return_indices=True)
        if op == "maxpool2d":
            return (lambda: F.max_pool2d(x, 2, 2, return_indices=True)), "F.max_pool2d with indices"
        return ((lambda: torch.ops.aten.max_pool2d_with_indices_backward(y, x, [2, 2], [2, 2], [0, 0], [1, 1], False, idx)),
                "aten.max_pool2d_with_indices_backward")
    if op in ("batch_norm2d", "batch_norm2d_bwd"):
        n, c, h, w, eps, momentum = s["n"], s["c"], s["h"], s["w"], s["eps"], s["momentum"]
        x, weight, bias = rnd(n, c, h, w), rnd(c), rnd(c)
        rm, rv = torch.zeros(c, device=dev), torch.ones(c, device=dev)
        if op == "batch_norm2d":
            return ((lambda: F.batch_norm(x, rm, rv, weight, bias, True, momentum, eps)),
                    "F.batch_norm, training, running statistics updated")
        _, mean, invstd = torch.ops.aten.native_batch_norm(x, weight, bias, rm, rv, True, momentum, eps)
        dy = rnd(n, c, h, w)
        return ((lambda: torch.ops.aten.native_batch_norm_backward(dy, x, weight, rm, rv, mean, invstd, True, eps,
                                                                   [True, True, True])),
                "aten.native_batch_norm_backward (dx, dweight, dbias)")
    if op in ("gelu", "gelu_bwd"):
        x = rnd(s["n"]) * 6
        if op == "gelu":
            return (lambda: F.gelu(x)), "F.gelu (exact)"
        dy = rnd(s["n"])
        return (lambda: torch.ops.aten.gelu_backward(dy, x)), "aten.gelu_backward (exact)"
    if op == "softmax_xent":
        return xent_case(s["n"], s["classes"])
    if op == "adam":
        return adam_case(s["params"])
    return None


def xent_case(n, classes):
    """the mean softmax cross-entropy and its gradient with respect to the
    logits, as cudalab's forward and backward kernels compute them"""
    logits = rnd(n, classes)
    labels = torch.arange(n, device=dev) * 7 % classes

    def loss_and_grad(x, y):
        logp = torch.log_softmax(x, 1)
        loss = -logp.gather(1, y[:, None]).mean()
        grad = (logp.exp() - F.one_hot(y, classes).to(x.dtype)) / x.shape[0]
        return loss, grad

    # the same numbers as autograd's, or the timing means nothing
    x = logits.clone().requires_grad_()
    F.cross_entropy(x, labels).backward()
    try:
        compiled = torch.compile(loss_and_grad, fullgraph=True, dynamic=False)
        loss, grad = compiled(logits, labels)
        torch.testing.assert_close(grad, x.grad)
        return (lambda: compiled(logits, labels)), "loss and gradient written out, torch.compile"
    except Exception as e:  # no compiler toolchain (triton), or an old torch
        print(f"torch_ops: torch.compile unavailable for the loss ({type(e).__name__}: {e}); timing it eagerly", file=sys.stderr)
    loss, grad = loss_and_grad(logits, labels)
    torch.testing.assert_close(grad, x.grad)
    return (lambda: loss_and_grad(logits, labels)), "loss and gradient written out, eager (no autograd)"


def adam_case(params):
    """one Adam step over one flat parameter of `params` floats, no weight
    decay, as cudalab's adam kernel takes it"""
    p = rnd(params)
    g = rnd(params)
    m = torch.zeros_like(p)
    v = torch.zeros_like(p)
    # the fused kernel reads the step count from the device (float32), as
    # Adam(fused=True) keeps it; Adam(fused=True).step() increments it first
    step = torch.zeros((), device=dev, dtype=torch.float32)

    def fused():
        torch._foreach_add_([step], 1)
        torch._fused_adam_([p], [g], [m], [v], [], [step], lr=1e-3, beta1=0.9, beta2=0.999,
                           weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
    try:
        fused()
        torch.cuda.synchronize()
        return fused, "torch._fused_adam_ called directly (the kernel of Adam(fused=True)), and the step increment"
    except (AttributeError, TypeError, RuntimeError) as e:  # the private op's signature moves between versions
        print(f"torch_ops: torch._fused_adam_ not callable here ({type(e).__name__}: {e}); timing Adam(fused=True).step()", file=sys.stderr)
    param = torch.nn.Parameter(p)
    param.grad = g
    opt = torch.optim.Adam([param], lr=1e-3, fused=True)
    return opt.step, "torch.optim.Adam(fused=True).step(), with the optimizer's Python"


def main():
    specs = json.load(sys.stdin)
    ms, what = [], []
    for s in specs:
        case = case_fn(s)
        ms.append(None if case is None else timed(case[0]))
        what.append(None if case is None else case[1])
    json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "ms": ms, "what": what}, sys.stdout)


if __name__ == "__main__":
    main()
