#!/usr/bin/env python3
"""the PyTorch reference for `cudalab train` on the same GPU: the same models
(seedcnn, ptcnn, tfcnn, tutorial), Adam, cross-entropy, inputs scaled to
[-1, 1], no augmentation, the whole data set already on the GPU, shuffled
each epoch. prints one JSON object per run: test accuracy and seconds per
epoch. fp32 (tf32 off), eager, as cudalab runs.

    python3 bench/torch_train.py --data /tmp/cifar10/cifar-10-batches-py --model seedcnn --lr 0.001 --batch 64
"""
import argparse
import json
import pickle
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def load(folder):
    # these are our own converted files; the test suite checks the safe parser on the same format
    def batch(name):
        with open(f"{folder}/{name}", "rb") as f:
            d = pickle.load(f, encoding="bytes")
        return np.asarray(d[b"data"], dtype=np.uint8), np.asarray(d[b"labels"], dtype=np.int64)
    xs, ys = zip(*[batch(f"data_batch_{i}") for i in range(1, 6)])
    xt, yt = batch("test_batch")
    return np.concatenate(xs), np.concatenate(ys), xt, yt


def model(name):
    if name == "seedcnn":
        return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(2048, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "ptcnn":
        return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(4096, 512), nn.ReLU(), nn.Linear(512, 10))
    if name == "tfcnn":
        return nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(1024, 64), nn.ReLU(), nn.Linear(64, 10))
    if name == "tutorial":
        return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                             nn.ReLU(), nn.Linear(84, 10))
    raise SystemExit(f"unknown model {name}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="seedcnn")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    dev = torch.device("cuda")
    x, y, xt, yt = load(a.data)
    prep = lambda u8: ((torch.from_numpy(u8).float().view(-1, 3, 32, 32) / 255 - 0.5) / 0.5).to(dev)
    x, xt = prep(x), prep(xt)
    y, yt = torch.from_numpy(y).to(dev), torch.from_numpy(yt).to(dev)
    net = model(a.model).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    epochs = []
    for epoch in range(a.epochs):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        net.train()
        perm = torch.randperm(len(x), device=dev)
        for i in range(0, len(x), a.batch):
            idx = perm[i:i + a.batch]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        net.eval()
        with torch.no_grad():
            correct = sum((net(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item() for i in range(0, len(xt), 1000))
        epochs.append({"epoch": epoch + 1, "seconds": seconds, "test_accuracy": correct / len(xt)})
    print(json.dumps({"framework": f"torch {torch.__version__}", "device": torch.cuda.get_device_name(0), "model": a.model,
                      "lr": a.lr, "batch": a.batch, "epochs": epochs, "test_accuracy": epochs[-1]["test_accuracy"],
                      "seconds_per_epoch": sorted(e["seconds"] for e in epochs)[len(epochs) // 2]}))


if __name__ == "__main__":
    main()
