#!/usr/bin/env python3
"""Reference for issue 30: k-means by scikit-learn (k = 14, seeds 0-2, 10 restarts each) on the
vectors semclust stored for the mixed sets (benches/mixed_language.py indexes them into
target/tmp/mixed-SET), raw and with each language's mean vector subtracted (Libovický et al.
2020, "On the Language Neutrality of Pre-trained Multilingual Representations"). NMI against
the topic, the language and the document, averaged over the seeds. Run with a Python that has
numpy and scikit-learn (a venv outside the repository):

    /path/to/venv/bin/python benches/mixed_reference.py
"""
import sqlite3

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

SETS = ["balanced", "confounded", "english"]
K = 14


def load(name):
    labels = {}
    with open(f"target/collections/mixed/{name}/labels.tsv", encoding="utf-8") as f:
        for line in f:
            key, topic, lang = line.rstrip("\n").split("\t")
            labels[key] = (topic, lang)
    db = sqlite3.connect(f"target/tmp/mixed-{name}/index.sqlite")
    rows = list(db.execute("select document, vector from passages"))
    x = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
    topic = [labels[d][0] for d, _ in rows]
    lang = [labels[d][1] for d, _ in rows]
    doc = [d for d, _ in rows]
    return x, topic, lang, doc


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def score(x, topic, lang, doc, tag):
    runs = []
    for seed in range(3):
        km = KMeans(K, n_init=10, random_state=seed).fit(unit(x))
        runs.append((nmi(topic, km.labels_), nmi(lang, km.labels_), nmi(doc, km.labels_)))
    t, l, d = np.mean(runs, axis=0)
    print(f"{tag:42s} topic {t:.3f}  language {l:.3f}  document {d:.3f}")


def centred(x, lang):
    x = x.copy()
    lang = np.array(lang)
    for code in set(lang):
        x[lang == code] -= x[lang == code].mean(0)
    return x


def main():
    for name in SETS:
        x, topic, lang, doc = load(name)
        score(x, topic, lang, doc, f"{name}, raw")
        score(centred(x, lang), topic, lang, doc, f"{name}, each language's mean removed")


if __name__ == "__main__":
    main()
