#!/usr/bin/env python3
"""airbench94's recipe (legacy/airbench94.py in KellerJordan/cifar10-airbench)
in PyTorch, fp32 (tf32 off unless --tf32), eager, for a given number of
epochs, on the CPU or a GPU: the reference that `cudalab train --config
experiments/airbench94.json` is timed and scored against on the same device. written from the published script's
semantics, not copied:

- the net: a 2x2 whitening conv 3->24 with bias (weight frozen, set from the
  patch covariance of the first 5,000 normalised training images), GELU,
  three conv groups (64, 256, 256: conv, maxpool 2, batch norm, GELU, conv,
  batch norm, GELU), maxpool 3, linear 256->10 without bias, times 1/9.
  batch norms: eps 1e-12, momentum 0.4 (airbench writes 0.6), weight frozen
  at 1. every conv is PyTorch's default with identity (dirac) filters for its
  first in_channels outputs and a zero bias.
- the loss summed over the batch, label smoothing 0.2; nesterov SGD, momentum
  0.85, lr 11.5 / kilostep and decay 0.0153 x 1024 / kilostep per step
  (kilostep = 1024 (1 + 1 / 0.15)), batch-norm biases at 64x the lr with the
  same decay per step; lr factor 0.2 -> 1 over the first 23% of the steps,
  then -> 0.07; lookahead every 5 steps at 0.95^5 (step / total)^3, the net
  set to the average at the end; the whitening bias frozen after 3 epochs.
- data: CIFAR normalisation, each image flipped at random once, then every
  epoch a random translation by up to 2 pixels (reflect padding) and, on odd
  epochs, all images flipped; batches of 1024, the short one left out.
- the test set after every epoch, and at the end with TTA level 2 (6 views).

    /usr/bin/python3 bench/torch_airbench94.py --data /tmp/c10/cifar-10-batches-py --epochs 2 --seed 0
    python3 bench/torch_airbench94.py --device cuda --epochs 9.9 --seed 0
"""
import argparse
import json
import math
import pickle
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from cpu_info import cpu_model

MEAN = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1)
STD = torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1)

BATCH = 1024
MOMENTUM = 0.85
LR_PER_1024 = 11.5
WD_PER_1024 = 0.0153
BIAS_SCALER = 64.0
LABEL_SMOOTHING = 0.2
WHITEN_BIAS_EPOCHS = 3
WHITEN_IMAGES = 5000
TRANSLATE = 2
EVAL_BATCH = 1000


def load(folder, limit, dev):
    def batch(name):
        with open(f"{folder}/{name}", "rb") as f:
            d = pickle.load(f, encoding="bytes")
        return np.asarray(d[b"data"], dtype=np.uint8), np.asarray(d[b"labels"], dtype=np.int64)
    xs, ys = zip(*[batch(f"data_batch_{i}") for i in range(1, 6)])
    x, y = np.concatenate(xs), np.concatenate(ys)
    xt, yt = batch("test_batch")
    if limit:
        x, y, xt, yt = x[:limit], y[:limit], xt[:limit], yt[:limit]
    norm = lambda u8: ((torch.from_numpy(u8).float().view(-1, 3, 32, 32) / 255 - MEAN) / STD).to(dev)
    return norm(x), torch.from_numpy(y).to(dev), norm(xt), torch.from_numpy(yt).to(dev)



# the network

def conv(c_in, c_out, kernel, padding, bias):
    c = nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=bias)
    with torch.no_grad():
        if bias:
            c.bias.zero_()
        nn.init.dirac_(c.weight[:min(c_in, c_out)])
    return c


def norm(channels):
    b = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    b.weight.requires_grad = False
    return b


class ConvGroup(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        # the same registration order (and so names) as airbench's
        self.conv1 = conv(c_in, c_out, 3, 1, False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = norm(c_out)
        self.conv2 = conv(c_out, c_out, 3, 1, False)
        self.norm2 = norm(c_out)
        self.activ = nn.GELU()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def make_net():
    net = nn.Sequential(
        conv(3, 24, 2, 0, True), nn.GELU(),
        ConvGroup(24, 64), ConvGroup(64, 256), ConvGroup(256, 256),
        nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, 10, bias=False), Scale(1 / 9),
    )
    net[0].weight.requires_grad = False
    return net


def whiten_init(layer, images, eps=5e-4):
    # the uncentred covariance of every 2x2 patch, its eigenvectors scaled by
    # 1/sqrt(eigenvalue + eps), largest first, then their negatives
    c, (kh, kw) = images.shape[1], layer.weight.shape[2:]
    patches = images.unfold(2, kh, 1).unfold(3, kw, 1)           # N, C, H', W', kh, kw
    flat = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw).double()
    cov = flat.T @ flat / flat.shape[0]
    values, vectors = torch.linalg.eigh(cov)                     # ascending
    values, vectors = values.flip(0), vectors.T.flip(0)          # rows, descending
    filters = (vectors / torch.sqrt(values + eps).view(-1, 1)).view(-1, c, kh, kw).float()
    with torch.no_grad():
        layer.weight.copy_(torch.cat([filters, -filters]))


# training pieces

def lr_factor(step, total):
    up = int(total * 0.23)
    if step < up:
        return 0.2 + 0.8 * step / up
    return 1.0 + (0.07 - 1.0) * (step - up) / (total - up)


class Lookahead:
    """an average of every float tensor of the state (running statistics too)"""

    def __init__(self, net):
        self.live = [t for t in net.state_dict().values() if t.dtype == torch.float32]
        self.avg = [t.clone() for t in self.live]

    def update(self, decay):
        with torch.no_grad():
            for a, t in zip(self.avg, self.live):
                a.lerp_(t, 1 - decay)
                t.copy_(a)


def translate(padded, size, pad):
    # every image shifted by its own (dy, dx) in [-pad, pad]^2
    n = padded.shape[0]
    shifts = torch.randint(0, 2 * pad + 1, (n, 2), device=padded.device)
    out = torch.empty(n, padded.shape[1], size, size, device=padded.device)
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            idx = ((shifts[:, 0] == dy) & (shifts[:, 1] == dx)).nonzero().flatten()
            if len(idx):
                out[idx] = padded[idx, :, dy:dy + size, dx:dx + size]
    return out


def views(x, tta):
    # (weight, view) pairs; level 2: the image and its mirror, and both of
    # the two one-pixel translations (reflect padding) and their mirrors
    if tta == 0:
        return [(1.0, x)]
    mirror = [(0.5, x), (0.5, x.flip(-1))]
    if tta == 1:
        return mirror
    p = F.pad(x, (1,) * 4, "reflect")
    shifted = [p[:, :, 0:32, 0:32], p[:, :, 2:34, 2:34]]
    return [(0.5 * w, v) for w, v in mirror] + [(0.25 * 0.5, v) for s in shifted for v in (s, s.flip(-1))]


def evaluate(net, x, y, tta=0):
    net.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x), EVAL_BATCH):
            xb, yb = x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]
            logits = sum(w * net(v) for w, v in views(xb, tta))
            loss += F.cross_entropy(logits, yb, reduction="sum")
            correct += (logits.argmax(1) == yb).sum()
    return float(correct) / len(x), float(loss) / len(x)


def clock(dev):
    # on a GPU the queue is drained first, so a reading covers the work before it
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/tmp/c10/cifar-10-batches-py")
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="the first N training and N test images (0: all)")
    ap.add_argument("--tta", type=int, default=2, choices=[0, 1, 2])
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--tf32", action="store_true", help="let cuDNN and cuBLAS use tf32 (off: fp32 as cudalab)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu: {cpu_model()}"
          + (f", gpu: {gpu}" if gpu else ""), flush=True)
    x, y, xt, yt = load(a.data, a.limit, dev)

    kilostep = 1024 * (1 + 1 / (1 - MOMENTUM))
    lr = LR_PER_1024 / kilostep
    wd = WD_PER_1024 * BATCH / kilostep
    lr_bias = lr * BIAS_SCALER
    steps_per_epoch = len(x) // BATCH
    if steps_per_epoch == 0:
        raise SystemExit(f"need at least {BATCH} training images, got {len(x)}")
    total = math.ceil(steps_per_epoch * a.epochs)

    net = make_net().to(dev)
    named = [(k, p) for k, p in net.named_parameters() if p.requires_grad]
    opt = torch.optim.SGD([
        dict(params=[p for k, p in named if "norm" in k], lr=lr_bias, weight_decay=wd / lr_bias),
        dict(params=[p for k, p in named if "norm" not in k], lr=lr, weight_decay=wd / lr),
    ], momentum=MOMENTUM, nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total))
    lookahead = Lookahead(net)

    t0 = clock(dev)
    whiten_init(net[0], x[:WHITEN_IMAGES])
    # each image flipped at random once; the epochs then translate (and flip all on odd epochs)
    flip = (torch.rand(len(x), device=dev) < 0.5).view(-1, 1, 1, 1)
    padded = F.pad(torch.where(flip, x.flip(-1), x), (TRANSLATE,) * 4, "reflect")
    print(f"whitening init and data preparation: {clock(dev) - t0:.1f}s, "
          f"{total} steps of {BATCH} ({steps_per_epoch} per epoch)", flush=True)

    step, rows = 0, []
    for epoch in range(math.ceil(a.epochs)):
        net[0].bias.requires_grad = epoch < WHITEN_BIAS_EPOCHS
        t0 = clock(dev)
        images = translate(padded, 32, TRANSLATE)
        if epoch % 2 == 1:
            images = images.flip(-1)
        perm = torch.randperm(len(images), device=dev)
        net.train()
        seen, loss_sum, correct = 0, 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            out = net(images[idx])
            loss = F.cross_entropy(out, y[idx], label_smoothing=LABEL_SMOOTHING, reduction="sum")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += len(idx)
            # summed on the device: a .item() per step would wait for the GPU every step
            loss_sum += loss.detach()
            correct += (out.detach().argmax(1) == y[idx]).sum()
            if step % 5 == 0:
                lookahead.update(0.95 ** 5 * (step / total) ** 3)
            if step >= total:
                lookahead.update(1.0)
                break
        train_s = clock(dev) - t0
        loss_sum, correct = float(loss_sum), int(correct)
        t0 = clock(dev)
        acc, test_loss = evaluate(net, xt, yt)
        eval_s = clock(dev) - t0
        row = dict(epoch=epoch + 1, steps=step, train_loss=loss_sum / seen, train_accuracy=correct / seen,
                   test_loss=test_loss, test_accuracy=acc, seconds=train_s, images_per_second=seen / train_s,
                   eval_seconds=eval_s)
        rows.append(row)
        print(f"epoch {epoch + 1}/{a.epochs:g}: {step} steps, train loss {row['train_loss']:.4f} "
              f"acc {100 * row['train_accuracy']:.2f}%, test loss {test_loss:.4f} acc {100 * acc:.2f}%, "
              f"train {train_s:.1f}s ({row['images_per_second']:.0f} img/s), eval {eval_s:.1f}s", flush=True)

    t0 = clock(dev)
    tta_acc, _ = evaluate(net, xt, yt, a.tta)
    tta_s = clock(dev) - t0
    print(f"test accuracy {100 * rows[-1]['test_accuracy']:.2f}%, {100 * tta_acc:.2f}% with test-time "
          f"augmentation (level {a.tta}, {tta_s:.1f}s) after {a.epochs:g} epochs", flush=True)
    print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads(), cpu=cpu_model(), gpu=gpu,
                          device=a.device, tf32=a.tf32,
                          epochs_planned=a.epochs, seed=a.seed, steps=step, train_images=len(x),
                          test_images=len(xt), test_accuracy=rows[-1]["test_accuracy"],
                          tta=a.tta, test_accuracy_tta=tta_acc, tta_seconds=tta_s, epochs=rows)))


if __name__ == "__main__":
    main()
