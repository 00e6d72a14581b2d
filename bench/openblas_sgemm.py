#!/usr/bin/env python3
"""float32 matrix products through numpy's BLAS (OpenBLAS in numpy's wheels and
Debian's python3-numpy), the yardstick for `cudalab bench --device cpu --ops gemm`.

    python3 bench/openblas_sgemm.py [--sizes 1000,2048,4096] [--min-seconds 0.5] [--json FILE]

Prints the CPU model, the BLAS numpy was built with, the kernel OpenBLAS picked
at run time and its thread count, then the median time and GFLOP/s of C = A @ B
for square n x n x n products (2 n^3 flops), after one warm-up product.

OpenBLAS picks its kernel from the processor unless OPENBLAS_CORETYPE says
otherwise (some machines set it, with OPENBLAS_L2_SIZE, to dodge bugs of older
builds; a current numpy is then slower than it could be). The kernel line says
which one ran: compare against cudalab only with the kernel the processor
deserves, or say which one it was.
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time

import numpy as np
from cpu_info import cpu_model



def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [x for x in ("avx2", "fma", "avx512f", "amx_tile") if x in have]
    except OSError:
        pass
    return []


def loaded_openblas():
    """the OpenBLAS library numpy loaded, found in this process's memory map"""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return path, ctypes.CDLL(path)
        except OSError:
            continue
    return None


def openblas_runtime():
    """kernel (core name), build config and threads, through threadpoolctl where
    it is installed, else straight from the library's own entry points (their
    names carry a prefix and suffix in numpy's wheels, none in Debian's build)"""
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get("internal_api") == "openblas":
                return {"library": pool.get("filepath"), "kernel": pool.get("architecture"),
                        "threads": pool.get("num_threads"), "config": pool.get("version"),
                        "via": "threadpoolctl"}
    except ImportError:
        pass
    found = loaded_openblas()
    if found is None:
        return {"library": None, "kernel": "unknown (no OpenBLAS loaded)", "threads": None, "config": None, "via": None}
    path, lib = found

    def call(stem, restype):
        for name in (f"scipy_openblas_{stem}64_", f"scipy_openblas_{stem}", f"openblas_{stem}64_", f"openblas_{stem}"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = restype
                fn.argtypes = []
                value = fn()
                return value.decode() if isinstance(value, bytes) else value
        return None

    return {"library": path, "kernel": call("get_corename", ctypes.c_char_p),
            "threads": call("get_num_threads", ctypes.c_int), "config": call("get_config", ctypes.c_char_p),
            "via": "ctypes"}


def numpy_blas():
    """the BLAS numpy was built against (numpy >= 1.25 says so as a dict)"""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older numpy prints its config instead of returning it
        return "unknown"


def time_product(n, min_seconds, rng, clock=time.perf_counter):
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm-up: threads started, pages touched
    times = []
    spent = 0.0
    while len(times) < 3 or (spent < min_seconds and len(times) < 200):
        t0 = clock()
        np.matmul(a, b, out=c)
        dt = clock() - t0
        times.append(dt)
        spent += dt
    ms = statistics.median(times) * 1e3
    return {"n": n, "ms": ms, "gflops": 2.0 * n ** 3 / (ms * 1e-3) / 1e9, "runs": len(times)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,2048,4096")
    ap.add_argument("--min-seconds", type=float, default=0.5, help="time spent per size after warm-up")
    ap.add_argument("--json", metavar="FILE", help="also write the results as one JSON object to FILE")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the process's cpu time instead of wall time: with OPENBLAS_NUM_THREADS=1 "
                         "that is the kernel's own time even while other programs share the cores")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s]
    rt = openblas_runtime()
    info = {
        "cpu": cpu_model(), "cpu_flags": cpu_flags(), "cores": os.cpu_count(),
        "numpy": np.__version__, "numpy_blas": numpy_blas(), "blas": rt,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    }
    rng = np.random.default_rng(0)
    clock = time.process_time if a.cpu_time else time.perf_counter
    results = [time_product(n, a.min_seconds, rng, clock) for n in sizes]
    if a.json:
        with open(a.json, "w") as f:
            json.dump({**info, "results": results}, f)
    print(f"numpy {info['numpy']} sgemm on {info['cpu']} ({', '.join(info['cpu_flags']) or 'no avx flags'}), {info['cores']} cores")
    print(f"numpy built with {info['numpy_blas']}; loaded: {rt['library']}")
    print(f"kernel {rt['kernel']}, threads {rt['threads']}, config {rt['config']} (via {rt['via']})")
    print("env: " + ", ".join(f"{k}={'unset' if v is None else v}" for k, v in info["env"].items()))
    print(f"clock: {'process cpu time' if a.cpu_time else 'wall time'}")
    print(f"{'n':>6} {'ms':>10} {'GFLOP/s':>9} {'runs':>5}")
    for r in results:
        print(f"{r['n']:>6} {r['ms']:>10.3f} {r['gflops']:>9.1f} {r['runs']:>5}")


if __name__ == "__main__":
    sys.exit(main())
