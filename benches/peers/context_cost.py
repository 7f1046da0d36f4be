#!/usr/bin/env python3
"""What contextual passages cost and a cheaper alternative, with sentence-transformers on the
weights semclust runs (the folder st_eval.py makes): per index and question set, the tokens of
the passages alone, in context (title > headings in front, as semclust embeds them), and of the
distinct contexts embedded once each; then hit@1 / hit@10 / MRR@10 of the text alone, in
context, and of normalize(v_text + lambda * v_context) for a few lambdas.

    ~/venv-ref/bin/python benches/peers/context_cost.py IDX_SAMPLE QUESTIONS.json IDX_DEBREF SET.json
"""
import json
import sqlite3
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parent))
from st_eval import answered, context_input
import torch
from sentence_transformers import SentenceTransformer
torch.set_num_threads(2)
st = SentenceTransformer(str(Path.home() / ".cache/semclust-refs/e5-st"), device="cpu")
for idx, qfile in zip(sys.argv[1::2], sys.argv[2::2]):
    db = sqlite3.connect(idx + "/index.sqlite")
    P = [dict(zip(("id", "document", "title", "section", "text"), r)) for r in db.execute("SELECT id, document, title, section, text FROM passages ORDER BY id")]
    qs = json.load(open(qfile))["questions"]
    enc = lambda xs: st.encode(xs, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    qv = enc(["query: " + q["q"] for q in qs])
    tv = enc(["passage: " + p["text"] for p in P])
    ctxs = [p["title"] if p["section"] is None else f"{p['title']} › {p['section']}" for p in P]
    uniq = sorted(set(ctxs)); ui = {c: i for i, c in enumerate(uniq)}
    cv = enc(["passage: " + c for c in uniq])[[ui[c] for c in ctxs]]
    full = enc(["passage: " + context_input(p) for p in P])
    tok = st.tokenizer
    ntext = sum(len(tok("passage: " + p["text"])["input_ids"]) for p in P)
    nfull = sum(len(tok("passage: " + context_input(p))["input_ids"]) for p in P)
    nctx = sum(len(tok("passage: " + c)["input_ids"]) for c in uniq)
    print(idx, len(P), "passages", len(uniq), "contexts; tokens text", ntext, "in-context +%.1f%%" % (100*(nfull/ntext-1)), "separate contexts +%.1f%%" % (100*nctx/ntext))
    def ev(pv):
        top = np.argsort(-(qv @ pv.T), axis=1)[:, :10]
        rs = [next((i + 1 for i, j in enumerate(row) if answered(q, P[j])), None) for q, row in zip(qs, top)]
        n = len(rs)
        return "hit@1 %.3f hit@10 %.3f mrr %.3f" % (sum(r == 1 for r in rs)/n, sum(r is not None for r in rs)/n, sum(1/r for r in rs if r)/n)
    print("  text", ev(tv)); print("  in-context", ev(full))
    for lam in [0.3, 0.5, 0.7, 1.0]:
        v = tv + lam * cv; v /= np.linalg.norm(v, axis=1, keepdims=True)
        print("  sum lambda", lam, ev(v))
