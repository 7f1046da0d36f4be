#!/usr/bin/env python3
"""Embedding from Python: the semclust package against sentence-transformers (PyTorch) and ONNX
Runtime (the same model exported to ONNX, f32 and dynamically quantised to int8), on the same
texts, threads and batch size, each engine in a process of its own (PyTorch's OpenMP threads
keep spinning after its work and halve the speed of whatever runs next in the same process),
the engines one after the other, in --rounds rounds.

    PEER_PY benches/peers/python_embed.py [--batch-size 32] [--threads 2] [--runs 5]
        [--rounds 2] [--engines semclust-q4,semclust-f32,st-f32,ort-f32,ort-int8] [--work DIR]

PEER_PY: a Python with torch, sentence-transformers, onnxruntime, onnx, tokenizers and the
semclust package (`pip install ./python`). Not a CI dependency. The model is
multilingual-e5-small: semclust runs its own weights (Q4_0 as shipped, or dequantised to f32);
the peers run the same weights dequantised to f32, built by scripts/make_references.py's
functions into --work (a sentence-transformers folder, then model.onnx and model-int8.onnx:
`torch.onnx.export` of the BERT encoder, then onnxruntime's `quantize_dynamic`, QInt8 weights).
ONNX Runtime's pooling (mean over the attention mask, then L2) is done in numpy, and its
batches are sorted by length as sentence-transformers and semclust sort theirs.

Texts: the 98 parity passages (tests/fixtures/parity/texts.json) with E5's passage prefix.
Throughput: the median of --runs timed passes over all texts after one warm-up pass, the best
round's. Accuracy:
the cosine of every vector with transformers' f32 reference (e5_f32_passages.npy). Prints one
JSON line per engine, then a Markdown table with the ratios of semclust Q4 to each.

Capping at AVX2: --cpuid-cap avx2 runs every engine's process under benches/peers/cpuid_cap.c
(built with cc into target/), which hides AVX-512, AVX-VNNI and AMX from CPUID itself, so each
library picks its AVX2 kernels as it would on an AVX2 CPU: ONNX Runtime too, which has no
setting of its own. Each row says what numpy's CPU dispatch saw (`avx512f_seen`). Without it:
SEMCLUST_MAX_ISA=avx2 (semclust), ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2 and
MKL_ENABLE_INSTRUCTIONS=AVX2 (PyTorch), and ONNX Runtime keeps its AVX-512 (VNNI) kernels.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "tests" / "fixtures" / "parity"


def st_folder(work):
    """The dequantised multilingual-e5-small as a sentence-transformers folder (once)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_references as mr
    return mr.st_folder(work / "e5-st", work / "refs")


def onnx_models(work, st_dir):
    """model.onnx (f32) and model-int8.onnx (dynamic quantisation) of the BERT encoder."""
    f32, int8 = work / "model.onnx", work / "model-int8.onnx"
    if not f32.is_file():
        import torch
        from transformers import BertModel

        class Encoder(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.bert = BertModel.from_pretrained(str(st_dir), add_pooling_layer=False).eval()

            def forward(self, input_ids, attention_mask):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        ids = torch.ones((2, 16), dtype=torch.long)
        torch.onnx.export(
            Encoder().eval(), (ids, ids), str(f32), input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"], opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                          "last_hidden_state": {0: "b", 1: "t"}})
    if not int8.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(str(f32), str(int8), weight_type=QuantType.QInt8)
    return f32, int8


class Ort:
    def __init__(self, path, tokenizer_json, threads):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        o = ort.SessionOptions()
        o.intra_op_num_threads = threads
        o.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(tokenizer_json))
        self.tok.enable_truncation(512)

    def encode(self, texts, batch_size):
        enc = self.tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(enc[i].ids))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            width = max(len(enc[i].ids) for i in idx)
            ids = np.ones((len(idx), width), dtype=np.int64)  # <pad> is 1
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                n = len(enc[i].ids)
                ids[r, :n] = enc[i].ids
                mask[r, :n] = 1
            (h,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            m = mask[..., None].astype(np.float32)
            v = (h * m).sum(1) / m.sum(1)
            out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out


def measure(a, name):
    """One engine, in this process: its figures as a dict."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    passages = json.loads((PARITY / "texts.json").read_text(encoding="utf-8"))["passages"]
    reference = np.load(PARITY / "e5_f32_passages.npy").astype(np.float64)
    prefixed = ["passage: " + p for p in passages]
    if name.startswith("semclust-"):
        import semclust
        m = semclust.Model("multilingual-e5-small", precision=name.split("-")[1], hub=False)
        run = lambda: m.encode(passages, batch_size=a.batch_size)  # noqa: E731
    elif name == "st-f32":
        import torch
        torch.set_num_threads(a.threads)
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(str(a.work / "e5-st"), device="cpu")
        run = lambda: st.encode(prefixed, batch_size=a.batch_size,  # noqa: E731
                                normalize_embeddings=True)
    elif name.startswith("ort-"):
        model = a.work / ("model.onnx" if name == "ort-f32" else "model-int8.onnx")
        o = Ort(model, a.work / "e5-st" / "tokenizer.json", a.threads)
        run = lambda: o.encode(prefixed, a.batch_size)  # noqa: E731
    else:
        raise SystemExit(f"unknown engine {name}")
    v = run()  # warm-up
    secs = []
    for _ in range(a.runs):
        t = time.perf_counter()
        v = run()
        secs.append(time.perf_counter() - t)
    secs.sort()
    v = np.asarray(v, dtype=np.float64)
    cos = (v * reference).sum(1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(reference, axis=1))
    return {
        "engine": name, "passages": len(passages), "batch_size": a.batch_size,
        "threads": a.threads, "median_s": secs[len(secs) // 2], "min_s": secs[0],
        "passages_per_s": len(passages) / secs[len(secs) // 2],
        "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
        "max_isa": os.environ.get("SEMCLUST_MAX_ISA"),
        "cpuid_cap": os.environ.get("CPUID_CAP") if "cpuid_cap" in os.environ.get(
            "LD_PRELOAD", "") else None,
        "avx512f_seen": bool(np._core._multiarray_umath.__cpu_features__.get("AVX512F")),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--engines", default="semclust-q4,semclust-f32,st-f32,ort-f32,ort-int8")
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "semclust-python-bench")
    ap.add_argument("--cpuid-cap", choices=["avx2", "avx2-vnni"],
                    help="hide the CPU's features above this level from every engine's CPUID")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(measure(a, a.one)))
        return
    a.work.mkdir(parents=True, exist_ok=True)
    engines = a.engines.split(",")
    if any(e == "st-f32" or e.startswith("ort-") for e in engines):
        onnx_models(a.work, st_folder(a.work))
    env = dict(os.environ)
    if a.cpuid_cap:
        lib = ROOT / "target" / "cpuid_cap.so"
        lib.parent.mkdir(exist_ok=True)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(lib),
                        str(ROOT / "benches" / "peers" / "cpuid_cap.c"), "-ldl"], check=True)
        env.update(LD_PRELOAD=str(lib), CPUID_CAP=a.cpuid_cap)
    rows = {}
    for _ in range(a.rounds):
        for name in engines:
            out = subprocess.run(
                [sys.executable, __file__, "--one", name, "--batch-size", str(a.batch_size),
                 "--threads", str(a.threads), "--runs", str(a.runs), "--work", str(a.work)],
                check=True, capture_output=True, text=True, env=env)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(r), flush=True)
            if name not in rows or r["passages_per_s"] > rows[name]["passages_per_s"]:
                rows[name] = r

    print()
    print("| engine | passages/s | semclust Q4 is | cosine with f32 reference (min / mean) |")
    print("|---|---|---|---|")
    base = rows.get("semclust-q4")
    for name, r in rows.items():
        ratio = f"{base['passages_per_s'] / r['passages_per_s']:.2f}×" if base else "–"
        print(f"| {name} | {r['passages_per_s']:.1f} | {ratio} | "
              f"{r['cosine_min']:.5f} / {r['cosine_mean']:.5f} |")

if __name__ == "__main__":
    main()
