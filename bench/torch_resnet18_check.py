#!/usr/bin/env python3
"""checks that a cudalab resnet18 checkpoint is kuangliu's CIFAR ResNet-18 as
PyTorch runs it: builds that model in PyTorch, loads the run's last
checkpoint-epoch-N.safetensors with load_state_dict(strict=True) (read by
hand: an 8-byte little-endian header length, a JSON header, the raw data; F32
and I32), runs the first N test images (normalised as the run's config.json
says) in eval mode, and compares the logits with cudalab's for the same
images (bench/resnet18-logits.js, run here through node). passes when the
largest difference relative to the largest logit magnitude is <= 1e-4.

    /usr/bin/python3 bench/torch_resnet18_check.py RUN_DIR --data /tmp/c10
"""
import argparse
import glob
import json
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        a = np.frombuffer(data[start:end], dtype=DTYPES[spec["dtype"]]).reshape(spec["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out


# kuangliu/pytorch-cifar's ResNet-18, with its attribute names

class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        in_planes = 64
        for i, (planes, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
            blocks = []
            for s in (stride, 1):
                blocks.append(BasicBlock(in_planes, planes, s))
                in_planes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4).flatten(1)
        return self.linear(out)


def latest_checkpoint(run_dir):
    found = [(int(m.group(1)), p) for p in glob.glob(os.path.join(run_dir, "checkpoint-epoch-*.safetensors"))
             if (m := re.search(r"checkpoint-epoch-(\d+)\.safetensors$", p))]
    if not found:
        raise SystemExit(f"{run_dir}: no checkpoint-epoch-N.safetensors")
    return max(found)[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--data", default="/tmp/c10", help="the folder holding cifar-10-batches-py")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(2)

    config = json.load(open(os.path.join(a.run_dir, "config.json")))
    if config["model"] != "resnet18":
        raise SystemExit(f"{a.run_dir}/config.json: model is {config['model']!r}, expected resnet18")
    norm = config["normalization"]
    ckpt = latest_checkpoint(a.run_dir)
    print(f"torch {torch.__version__}; checkpoint {ckpt}; normalization {norm}")

    state = read_safetensors(ckpt)
    net = ResNet18()
    # PyTorch keeps num_batches_tracked as int64, cudalab writes it as I32: the same count in torch's dtype
    expected = net.state_dict()
    for k in list(state):
        if k in expected and expected[k].dtype == torch.int64:
            state[k] = state[k].to(torch.int64)
    net.load_state_dict(state, strict=True)
    print(f"load_state_dict(strict=True): {len(state)} tensors, "
          f"{sum(p.numel() for p in net.parameters()):,} parameters")
    net.eval()

    with open(os.path.join(a.data, "cifar-10-batches-py", "test_batch"), "rb") as f:
        d = pickle.load(f, encoding="bytes")
    u8 = np.asarray(d[b"data"][:a.count], dtype=np.uint8).reshape(-1, 3, 32, 32)
    mean = np.array(norm["mean"], dtype=np.float64).reshape(1, 3, 1, 1)
    std = np.array(norm["std"], dtype=np.float64).reshape(1, 3, 1, 1)
    x = torch.from_numpy(((u8 / 255.0 - mean) / std).astype(np.float32))
    with torch.no_grad():
        ours = net(x).double().numpy()

    node = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet18-logits.js"),
                           a.run_dir, a.data, str(a.count)], capture_output=True, text=True)
    if node.returncode != 0:
        sys.stderr.write(node.stderr)
        raise SystemExit(f"resnet18-logits.js failed ({node.returncode})")
    theirs = np.array(json.loads(node.stdout)["logits"], dtype=np.float64)

    diff = np.abs(ours - theirs)
    scale = np.abs(ours).max()
    elementwise = (diff / np.maximum(np.abs(ours), 1e-6)).max()
    rel = diff.max() / scale
    agree = (ours.argmax(1) == theirs.argmax(1)).mean()
    print(f"{a.count} images: max |torch - cudalab| {diff.max():.3e}, largest |logit| {scale:.3f}, "
          f"max relative difference (to the largest logit) {rel:.3e}, elementwise max {elementwise:.3e}; "
          f"argmax agrees on {100 * agree:.1f}%")
    print(f"first image: torch   {np.array2string(ours[0], precision=5, max_line_width=200)}")
    print(f"first image: cudalab {np.array2string(theirs[0], precision=5, max_line_width=200)}")
    ok = rel <= a.tolerance
    print(f"{'PASS' if ok else 'FAIL'}: {rel:.3e} {'<=' if ok else '>'} {a.tolerance:g}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
