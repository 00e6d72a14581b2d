#!/usr/bin/env python3
"""the PyTorch reference for `cudalab train` on the same GPU (or CPU, with
--device cpu and torch's own threads): the same models
(seedcnn, ptcnn, tfcnn, tutorial), Adam, cross-entropy, inputs scaled to
[-1, 1], no augmentation, the whole data set already on the GPU, shuffled
each epoch. prints one JSON object per run: test accuracy and seconds per
epoch. fp32 (tf32 off), eager as cudalab runs, or with --graphs PyTorch at
its best for small steps: every full batch's forward, backward and Adam
update replayed as one CUDA graph (the short last batch runs eagerly).

    python3 bench/torch_train.py --data /tmp/cifar10/cifar-10-batches-py --model seedcnn --lr 0.001 --batch 64
    python3 bench/torch_train.py --data /tmp/cifar10/cifar-10-batches-py --model seedcnn --graphs
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


def captured_step(net, opt, batch, dev):
    """a function running one training step on a full batch by replaying a
    CUDA graph. PyTorch's rule: warm up on a side stream before capturing;
    the warm-up's updates are undone, so training starts from the same state
    as the eager run."""
    static_x = torch.zeros(batch, 3, 32, 32, device=dev)
    static_y = torch.zeros(batch, dtype=torch.long, device=dev)
    saved = [p.detach().clone() for p in net.parameters()]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(static_x), static_y).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(side)
    with torch.no_grad():
        for p, s in zip(net.parameters(), saved):
            p.copy_(s)
        for state in opt.state.values():
            for t in state.values():
                t.zero_()
    opt.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        F.cross_entropy(net(static_x), static_y).backward()
        opt.step()

    def step(xb, yb):
        static_x.copy_(xb)
        static_y.copy_(yb)
        graph.replay()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="seedcnn")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--graphs", action="store_true", help="replay each full training step as a CUDA graph")
    ap.add_argument("--device", default="cuda", help="cuda or cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch's CPU threads (0: its default)")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    x, y, xt, yt = load(a.data)
    prep = lambda u8: ((torch.from_numpy(u8).float().view(-1, 3, 32, 32) / 255 - 0.5) / 0.5).to(dev)
    x, xt = prep(x), prep(xt)
    y, yt = torch.from_numpy(y).to(dev), torch.from_numpy(yt).to(dev)
    net = model(a.model).to(dev)
    # capturable keeps Adam's step count on the GPU, which a graph needs
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, capturable=a.graphs)
    step = captured_step(net, opt, a.batch, dev) if a.graphs else None
    epochs = []
    for epoch in range(a.epochs):
        sync()
        t0 = time.perf_counter()
        net.train()
        perm = torch.randperm(len(x), device=dev)
        for i in range(0, len(x), a.batch):
            idx = perm[i:i + a.batch]
            if step and len(idx) == a.batch:
                step(x[idx], y[idx])
                continue
            loss = F.cross_entropy(net(x[idx]), y[idx])
            # in place: after a capture the gradients live at the graph's addresses
            opt.zero_grad(set_to_none=not a.graphs)
            loss.backward()
            opt.step()
        sync()
        seconds = time.perf_counter() - t0
        net.eval()
        with torch.no_grad():
            correct = sum((net(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item() for i in range(0, len(xt), 1000))
        epochs.append({"epoch": epoch + 1, "seconds": seconds, "test_accuracy": correct / len(xt)})
    print(json.dumps({"framework": f"torch {torch.__version__}" + (" cuda graphs" if a.graphs else " eager"), "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else f"cpu, {torch.get_num_threads()} threads", "model": a.model,
                      "lr": a.lr, "batch": a.batch, "epochs": epochs, "test_accuracy": epochs[-1]["test_accuracy"],
                      "seconds_per_epoch": sorted(e["seconds"] for e in epochs)[len(epochs) // 2]}))


if __name__ == "__main__":
    main()
