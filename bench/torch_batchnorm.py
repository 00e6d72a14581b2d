"""cudalab's BatchNorm2d against PyTorch's own. reads a safetensors file that
tests/nn/batchnorm-torch.test.ts wrote (the module's state before and after
training, the batches it saw and what it gave), replays the training in
torch.nn.BatchNorm2d from the state before, loads both states with
load_state_dict(strict=True), and prints, as JSON, how far PyTorch's outputs
and statistics are from cudalab's.

usage: python3 bench/torch_batchnorm.py FILE EPS MOMENTUM"""
import json
import struct
import sys

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    header.pop("__metadata__", None)
    data = buf[8 + n:]
    dtypes = {"F32": torch.float32, "I32": torch.int32, "I64": torch.int64}
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:end]), dtype=dtypes[e["dtype"]]) if end > b else torch.empty(0, dtype=dtypes[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out


def rel(a, ref):
    a, ref = a.double(), ref.double()
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def main():
    path, eps, momentum = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    t = read_safetensors(path)
    state = lambda prefix: {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
    c = t["initial.weight"].shape[0]
    bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum)
    bn.load_state_dict(state("initial."), strict=True)
    bn.train()
    report = {"train": []}
    with torch.no_grad():
        i = 0
        while f"x{i}" in t:
            report["train"].append(rel(bn(t[f"x{i}"]), t[f"y{i}"]))
            i += 1
        final = state("final.")
        report["running_mean"] = rel(bn.running_mean, final["running_mean"])
        report["running_var"] = rel(bn.running_var, final["running_var"])
        report["num_batches_tracked"] = int(bn.num_batches_tracked)
        fresh = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum)
        fresh.load_state_dict(final, strict=True)
        report["num_batches_tracked_dtype"] = str(fresh.num_batches_tracked.dtype)
        fresh.eval()
        report["eval"] = rel(fresh(t["xe"]), t["ye"])
    print(json.dumps(report))


if __name__ == "__main__":
    main()
