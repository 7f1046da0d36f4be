#!/usr/bin/env python3
"""Issue 30, "themes follow the titles": what the context in front of each passage does to
themes, on the English set of scripts/mixed-sets.py (94 sections of Debian Reference, topic:
the chapter). Clusters (scikit-learn k-means, k = 14, seeds 0-2) the stored contextual
vectors, the passages' text embedded alone (`semclust embed`), and the contextual vectors minus
a share of their context's own vector (each distinct `title › section` embedded once), and
prints NMI against the topic and the document. Needs benches/mixed_language.py run first (it
indexes target/tmp/mixed-english) and a Python with numpy and scikit-learn:

    /path/to/venv/bin/python benches/context_reference.py
"""
import os
import sqlite3
import subprocess
import tempfile

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

BIN = os.environ.get("SEMCLUST_BIN", "target/release/semclust")
K = 14


def embed(lines):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(line.replace("\n", " ") for line in lines) + "\n")
    out = tempfile.NamedTemporaryFile(suffix=".npy", delete=False)
    subprocess.run([BIN, "embed", "-q", "--truncate", "--format", "npy", f.name],
                   check=True, stdout=out)
    out.close()
    return np.load(out.name)


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main():
    labels = {}
    with open("target/collections/mixed/english/labels.tsv", encoding="utf-8") as f:
        for line in f:
            key, topic, _ = line.rstrip("\n").split("\t")
            labels[key] = topic
    db = sqlite3.connect("target/tmp/mixed-english/index.sqlite")
    rows = list(db.execute("select document, title, section, text, vector from passages"))
    stored = np.stack([np.frombuffer(r[4], dtype=np.float32) for r in rows])
    contexts = [f"{r[1]} › {r[2]}" if r[2] else r[1] for r in rows]
    distinct = sorted(set(contexts))
    ctx = embed(distinct)
    ctx = ctx[[distinct.index(c) for c in contexts]]
    alone = embed([r[3] for r in rows])
    topic = [labels[r[0]] for r in rows]
    doc = [r[0] for r in rows]

    def score(x, tag):
        runs = []
        for seed in range(3):
            km = KMeans(K, n_init=10, random_state=seed).fit(unit(x))
            runs.append((nmi(topic, km.labels_), nmi(doc, km.labels_)))
        t, d = np.mean(runs, axis=0)
        print(f"{tag:44s} topic {t:.3f}  document {d:.3f}")

    print(f"{len(rows)} passages, {len(distinct)} distinct contexts")
    score(stored, "contextual (as stored)")
    score(alone, "text alone")
    for a in (0.3, 0.5, 0.7, 1.0):
        score(stored - a * ctx, f"contextual - {a} x context vector")
    score(stored - (stored * ctx).sum(1, keepdims=True) * ctx, "contextual minus its projection on it")


if __name__ == "__main__":
    main()
