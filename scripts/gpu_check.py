#!/usr/bin/env python3
"""The Python half of scripts/gpu-check.sh (issue 20's run on a lent GPU machine). It needs only
what that machine's image has: numpy, torch, transformers, sentence-transformers.

    gpu_check.py st-folder MODEL_DIR OUT_DIR      # GGUF Q4_0 -> f32 sentence-transformers folder
    gpu_check.py st-bench ST_DIR TEXTS OUT.json --device cuda --dtypes f16,f32 --batch-sizes 1,8,64
    gpu_check.py parity REF.jsonl OTHER.jsonl... --min 0.9999 [--out parity.json]
    gpu_check.py load URL TEXTS --clients 16 --requests 200 --ref REF.jsonl --out load.json
    gpu_check.py summary OUT_DIR                  # summary.md from what the run wrote

st-folder dequantises the Q4_0 blocks exactly as GGML defines them (value = (nibble - 8) * scale,
low nibbles first), so sentence-transformers runs the weights semclust runs, not another
checkpoint.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import threading
import time
import urllib.request

import numpy as np

# ----------------------------------------------------------------------------------------------
# GGUF reading (version 2 and 3), Q4_0 / F16 / F32 tensors.

GGUF_TYPES = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
              11: "<q", 12: "<d"}
Q4_0, F16, F32 = 2, 1, 0


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.at)[0]
        self.at += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.data[self.at:self.at + n]).decode("utf-8")
        self.at += n
        return s

    def value(self, kind):
        if kind == 8:
            return self.string()
        if kind == 9:
            inner, n = self.take("<I"), self.take("<Q")
            return [self.value(inner) for _ in range(n)]
        return self.take(GGUF_TYPES[kind])


def read_gguf(path):
    data = np.memmap(path, dtype=np.uint8, mode="r")
    r = Reader(data)
    if bytes(data[:4]) != b"GGUF":
        sys.exit(f"{path}: not a GGUF file")
    r.at = 4
    version = r.take("<I")
    if version not in (2, 3):
        sys.exit(f"{path}: GGUF version {version} not read here")
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        infos.append((name, dims, r.take("<I"), r.take("<Q")))
    align = int(meta.get("general.alignment", 32))
    base = (r.at + align - 1) // align * align
    tensors = {}
    for name, dims, kind, offset in infos:
        n = int(np.prod(dims))
        start = base + offset
        if kind == F32:
            a = np.frombuffer(data, np.float32, n, start).copy()
        elif kind == F16:
            a = np.frombuffer(data, np.float16, n, start).astype(np.float32)
        elif kind == Q4_0:
            blocks = np.frombuffer(data, np.uint8, n // 32 * 18, start).reshape(-1, 18)
            scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
            qs = blocks[:, 2:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
            a = (q.astype(np.float32) * scale).reshape(-1)
        else:
            sys.exit(f"{path}: tensor {name} has GGML type {kind}, not read here")
        # GGML lists the fastest-varying dimension first.
        tensors[name] = a.reshape(list(reversed(dims)))
    return meta, tensors


def st_folder(args):
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer, models

    gguf = os.path.join(args.model_dir, "model-q4_0.gguf")
    meta, tensors = read_gguf(gguf)
    hf = os.path.join(args.out_dir, "hf")
    os.makedirs(hf, exist_ok=True)
    config = json.load(open(os.path.join(args.model_dir, "config.json")))
    config.setdefault("model_type", "bert")
    config.setdefault("architectures", ["BertModel"])
    json.dump(config, open(os.path.join(hf, "config.json"), "w"), indent=1)
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()},
              os.path.join(hf, "model.safetensors"))
    with open(os.path.join(args.model_dir, "tokenizer.json"), "rb") as src, \
            open(os.path.join(hf, "tokenizer.json"), "wb") as dst:
        dst.write(src.read())
    json.dump({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
               "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
               "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"},
              open(os.path.join(hf, "tokenizer_config.json"), "w"))
    t = models.Transformer(hf, max_seq_length=512)
    st = SentenceTransformer(modules=[t, models.Pooling(t.get_word_embedding_dimension(), "mean"),
                                      models.Normalize()], device="cpu")
    st.save(os.path.join(args.out_dir, "st"))
    print(f"st-folder: {len(tensors)} tensors from {gguf} -> {args.out_dir}/st")


# ----------------------------------------------------------------------------------------------


def read_texts(path):
    return [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip()]


def st_bench(args):
    import torch
    from sentence_transformers import SentenceTransformer

    texts = ["passage: " + t for t in read_texts(args.texts)]
    results = {"texts": len(texts), "device": args.device, "rows": []}
    if args.device.startswith("cuda"):
        results["gpu"] = torch.cuda.get_device_name(0)
    results["torch"] = torch.__version__
    for dtype in args.dtypes.split(","):
        st = SentenceTransformer(args.st_dir, device=args.device)
        if dtype == "f16":
            st = st.half()
        tokens = sum(len(st.tokenizer(t, truncation=True, max_length=512)["input_ids"])
                     for t in texts)
        vectors = None
        for bs in [int(b) for b in args.batch_sizes.split(",")]:
            if args.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            times = []
            for run in range(args.warmup + args.runs):
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                with torch.inference_mode():
                    v = st.encode(texts, batch_size=bs, convert_to_numpy=True)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                if run >= args.warmup:
                    times.append(time.perf_counter() - t0)
            vectors = v if vectors is None else vectors
            lat = []
            for t in texts[:20]:
                t0 = time.perf_counter()
                with torch.inference_mode():
                    st.encode([t.replace("passage: ", "query: ", 1)], convert_to_numpy=True)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                lat.append((time.perf_counter() - t0) * 1000)
            med = statistics.median(times)
            row = {"engine": "sentence-transformers", "dtype": dtype, "batch": bs,
                   "seconds": med, "passages_per_s": len(texts) / med,
                   "tokens_per_s": tokens / med, "query_ms_median": statistics.median(lat)}
            if args.device.startswith("cuda"):
                row["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
        if args.vectors_prefix:
            write_jsonl(f"{args.vectors_prefix}-{dtype}.jsonl", vectors)
        del st
    json.dump(results, open(args.out, "w"), indent=1)


def write_jsonl(path, vectors):
    with open(path, "w") as f:
        for v in vectors:
            f.write(json.dumps([float(x) for x in v]) + "\n")


def read_jsonl(path):
    return np.array([json.loads(l) for l in open(path) if l.strip()], dtype=np.float64)


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def parity(args):
    ref = read_jsonl(args.ref)
    report, ok = {}, True
    for other in args.others:
        o = read_jsonl(other)
        if o.shape != ref.shape:
            report[other] = {"error": f"shape {o.shape} vs {ref.shape}"}
            ok = False
            continue
        c = cosines(ref, o)
        bar = args.min
        for tag, b in (("f16", args.min_f16), ("q4", args.min_q4)):
            if tag in os.path.basename(other):
                bar = b
        report[other] = {"min": float(c.min()), "mean": float(c.mean()),
                         "argmin": int(c.argmin()), "bar": bar, "pass": bool(c.min() >= bar)}
        ok &= bool(c.min() >= bar)
        print(f"parity {os.path.basename(other)} vs {os.path.basename(args.ref)}: "
              f"min {c.min():.6f} mean {c.mean():.6f} (bar {bar}) {'ok' if c.min() >= bar else 'FAIL'}")
    if args.out:
        json.dump(report, open(args.out, "w"), indent=1)
    sys.exit(0 if ok else 1)


def load(args):
    texts = read_texts(args.texts)
    ref = read_jsonl(args.ref) if args.ref else None
    lock = threading.Lock()
    stats = {"ok": 0, "errors": [], "latencies_ms": [], "worst_cosine": 1.0}
    todo = list(range(args.requests))

    def client():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            idx = [(i * 7 + j) % len(texts) for j in range(args.per_request)]
            body = json.dumps({"model": "multilingual-e5-small",
                               "input": [texts[j] for j in idx]}).encode()
            req = urllib.request.Request(args.url + "/v1/embeddings", body,
                                         {"Content-Type": "application/json"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    out = json.load(r)
                ms = (time.perf_counter() - t0) * 1000
                worst = 1.0
                if ref is not None:
                    got = np.array([d["embedding"] for d in out["data"]], dtype=np.float64)
                    worst = float(cosines(got, ref[idx]).min())
                with lock:
                    stats["ok"] += 1
                    stats["latencies_ms"].append(ms)
                    stats["worst_cosine"] = min(stats["worst_cosine"], worst)
            except Exception as e:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    stats["errors"].append(str(e)[:200])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = sorted(stats.pop("latencies_ms")) or [0.0]
    out = {"clients": args.clients, "requests": args.requests, "texts_per_request": args.per_request,
           "ok": stats["ok"], "errors": len(stats["errors"]), "first_errors": stats["errors"][:5],
           "wall_s": wall, "texts_per_s": stats["ok"] * args.per_request / wall,
           "p50_ms": lat[len(lat) // 2], "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
           "worst_cosine_vs_cpu_f32": stats["worst_cosine"]}
    json.dump(out, open(args.out, "w"), indent=1)
    print("load:", json.dumps(out))
    sys.exit(0 if out["errors"] == 0 and out["ok"] == args.requests else 1)


def summary(args):
    d = args.out_dir
    lines = ["# GPU check", ""]
    for name in ["env.txt", "nvidia-smi.txt"]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            lines += [f"## {name}", "```", open(p).read().strip()[:3000], "```", ""]
    p = os.path.join(d, "bench", "bench.md")
    if os.path.exists(p):
        lines += ["## semclust bench", open(p).read(), ""]
    rows = []
    for f in sorted(os.listdir(d)):
        if f.startswith("st-bench") and f.endswith(".json"):
            rows += json.load(open(os.path.join(d, f)))["rows"]
    if rows:
        lines += ["## sentence-transformers, same weights, same texts", "",
                  "| dtype | batch | passages/s | tokens/s | query ms | peak MiB |", "|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['dtype']} | {r['batch']} | {r['passages_per_s']:.1f} | "
                         f"{r['tokens_per_s']:.0f} | {r['query_ms_median']:.1f} | "
                         f"{r.get('peak_mib', float('nan')):.0f} |")
        lines.append("")
    for name in ["parity.json", "parity-st.json", "load.json"]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            lines += [f"## {name}", "```json", open(p).read().strip(), "```", ""]
    open(os.path.join(d, "summary.md"), "w").write("\n".join(lines))
    print(f"summary: {os.path.join(d, 'summary.md')}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("st-folder")
    a.add_argument("model_dir")
    a.add_argument("out_dir")
    a = sub.add_parser("st-bench")
    a.add_argument("st_dir")
    a.add_argument("texts")
    a.add_argument("out")
    a.add_argument("--device", default="cuda")
    a.add_argument("--dtypes", default="f16,f32")
    a.add_argument("--batch-sizes", default="1,8,32,64,256")
    a.add_argument("--warmup", type=int, default=1)
    a.add_argument("--runs", type=int, default=3)
    a.add_argument("--vectors-prefix")
    a = sub.add_parser("parity")
    a.add_argument("ref")
    a.add_argument("others", nargs="+")
    a.add_argument("--min", type=float, default=0.9999)
    a.add_argument("--min-f16", type=float, default=0.999)
    a.add_argument("--min-q4", type=float, default=0.995)
    a.add_argument("--out")
    a = sub.add_parser("load")
    a.add_argument("url")
    a.add_argument("texts")
    a.add_argument("--clients", type=int, default=16)
    a.add_argument("--requests", type=int, default=200)
    a.add_argument("--per-request", type=int, default=8)
    a.add_argument("--ref")
    a.add_argument("--out", required=True)
    a = sub.add_parser("summary")
    a.add_argument("out_dir")
    args = p.parse_args()
    {"st-folder": st_folder, "st-bench": st_bench, "parity": parity, "load": load,
     "summary": summary}[args.cmd](args)


if __name__ == "__main__":
    main()
