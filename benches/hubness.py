#!/usr/bin/env python3
"""Issue 30: hub reduction (CSLS, Conneau et al. 2018, "Word translation without parallel data")
measured on the vectors semclust stored, in the model's space and in the language-neutral view.

A passage p that is near many others (a "hub") comes first for many queries whatever they ask;
in a mixed collection the hubs of a query's own language crowd the top. CSLS ranks by
cos(q, p) - beta * r(p), r(p) the mean cosine of p to its 10 nearest passages outside its own
article (in the same space), which needs a k-nearest-neighbour pass over the collection.

    REF_PY=/path/to/venv/bin/python benches/hubness.py

Needs the sets of benches/neutral_reference.py (run it first), and an index of Debian
Reference's 14 English pages for the debref-sections questions:

    semclust index --index target/tmp/debref-en target/collections/debref/en

Prints, per beta: on each source's mixed sets, the cross-lingual questions' dense hit@1 into
balanced and the share of their top 10 in the question's language over that language's share
of the collection, and from each German passage of pairs (less half its article's mean, as
`related --other-articles` does) the English version first and the German share of the top 10;
then dense hit@1 and MRR@10 of tests/fixtures/eval/debref-sections.json (questions in five
languages into the English pages) and tests/fixtures/questions.json (the sample), each question
in the model's space when it is in the collection's language and in the view otherwise, as
`semclust eval` does.
"""
import json
import os
import sqlite3
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("METHODS", "raw,span-0.1")
import neutral_reference as nr  # noqa: E402
import numpy as np  # noqa: E402

BETAS = (0.0, 0.25, 0.5)
K = 10


def hub(y, art):
    """Mean cosine of each row to its K nearest rows outside its article."""
    s = y @ y.T
    s[art[:, None] == art[None, :]] = -9
    return -np.partition(-s, K, axis=1)[:, :K].mean(1)


def mixed(cal, src):
    x, _, lang, doc = nr.load(src, "pairs")
    art = nr.articles(f"target/tmp/neutral-{src}-pairs")
    xr = nr.less_article_mean(x, art, 0.5)
    xb, _, lb, docb = nr.load(src, "balanced")
    artb = nr.articles(f"target/tmp/neutral-{src}-balanced")
    with open(os.path.join(nr.ROOTS[src], "cross-lingual.json"), encoding="utf-8") as f:
        qs = json.load(f)["questions"]
    qv = nr.embed([q["q"] for q in qs], f"target/tmp/neutral-{src}-questions.npy", query=True)
    qlang = np.array([q["lang"] for q in qs])
    answer = np.array([q["document"] for q in qs])
    shares = Counter(lb)
    for m in nr.methods(cal, x, lang):
        y, q = nr.transform(m, x, lang), nr.transform(m, xr, lang)
        yb = nr.transform(m, xb, lb)
        qq = nr.unit(np.stack([m.query(qv[i:i + 1].astype(np.float64), qlang[i])[0]
                               for i in range(len(qs))]))
        r, rb = hub(y, art), hub(yb, artb)
        for beta in BETAS:
            first, own = nr.related_pairs(y, q, lang, doc, art, beta * r)
            tq = np.argsort(-(qq @ yb.T - beta * rb[None, :]), axis=1)[:, :10]
            hit1 = np.mean(docb[tq[:, 0]] == answer)
            ratio = np.mean([np.mean(lb[t] == ql) / (shares[ql] / len(lb))
                             for t, ql in zip(tq, qlang)])
            print(f"{src:8} {m.name:8} beta {beta:.2f}  search hit@1 {hit1:.3f} own/share "
                  f"{ratio:.2f}  related: version first {first:.3f} German share {own:.2f}",
                  flush=True)


def one_language(cal, name, index, questions, main):
    db = sqlite3.connect(f"{index}/index.sqlite")
    rows = list(db.execute("select id, document, section, vector from passages order by id"))
    ids, docs, sec = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    x = np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows]).astype(np.float64)
    art = nr.articles(index)
    with open(questions, encoding="utf-8") as f:
        qs = json.load(f)["questions"]
    qv = nr.embed([q["q"] for q in qs], f"target/tmp/hubness-{name}-questions.npy",
                  query=True).astype(np.float64)
    view = nr.methods(cal, x, np.array(["xx"] * len(x)))[-1]  # span-0.1
    y = nr.unit(view.passage(x, "xx"))
    r_model, r_view = hub(x, art), hub(y, art)

    def answers(q, i):
        if q.get("answers"):
            return ids[i] in q["answers"]
        return (docs[i] == q["document"] and sec[i] is not None
                and q["section"] in sec[i].split(" › "))

    for beta in BETAS:
        h1, mrr = [], []
        for i, q in enumerate(qs):
            if q["lang"] == main:
                s = x @ qv[i] - beta * r_model
            else:
                s = y @ nr.unit(view.query(qv[i:i + 1], "xx"))[0] - beta * r_view
            hits = [answers(q, j) for j in np.argsort(-s)[:10]]
            h1.append(hits[0])
            mrr.append(next((1 / (j + 1) for j, h in enumerate(hits) if h), 0))
        print(f"{name:16} beta {beta:.2f}  dense hit@1 {np.mean(h1):.3f} MRR@10 {np.mean(mrr):.3f}",
              flush=True)


def main():
    cal = nr.calibration()
    for src in ("debref", "handbook"):
        mixed(cal, src)
    one_language(cal, "debref-sections", "target/tmp/debref-en",
                 "tests/fixtures/eval/debref-sections.json", "en")
    one_language(cal, "sample", "target/tmp/index-shared", "tests/fixtures/questions.json", "fr")


if __name__ == "__main__":
    main()
