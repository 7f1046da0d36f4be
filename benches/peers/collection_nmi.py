"""NMI of themes against a real collection's labels: semclust's themes beside scikit-learn's
KMeans on the very same vectors (read from the semclust SQLite index), scored by scikit-learn.

    python benches/peers/collection_nmi.py INDEX_DIR LABELS_TSV THEMES_JSON [--seeds 3]

INDEX_DIR: a folder index made by `semclust index` over a collection of
scripts/real-collections.sh build; LABELS_TSV: that collection's labels.tsv (document key, TAB,
label); THEMES_JSON: `semclust themes --json` runs over the index, all at one k (e.g. one per seed);
that k is used for the peer.
The peer runs KMeans(n_clusters=k, n_init=10, random_state=seed) on the stored vectors.
Prints one JSON object. Not a CI dependency: run it from a venv with numpy and scikit-learn.
"""
import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("index")
    ap.add_argument("labels")
    ap.add_argument("themes", nargs="+")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--prefix", default="", help="prepended to the index's document keys to "
                    "find them in LABELS_TSV (de/ when the index holds the de/ folder alone)")
    a = ap.parse_args()
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    labels = dict(line.rstrip("\n").split("\t") for line in open(a.labels, encoding="utf-8"))
    db = sqlite3.connect(Path(a.index) / "index.sqlite")
    rows = db.execute("SELECT id, document, vector FROM passages ORDER BY id").fetchall()
    ids = [r[0] for r in rows]
    truth = np.unique([labels[a.prefix + r[1]] for r in rows], return_inverse=True)[1]
    x = np.stack([np.frombuffer(r[2], dtype="<f4") for r in rows])
    ours = []
    for path in a.themes:
        themes = json.load(open(path, encoding="utf-8"))
        by_id = {p["id"]: p["theme"] for p in themes["passages"]}
        ours.append(nmi(truth, [by_id[i] for i in ids]))
    k = themes["facts"]["k"]
    peer = [nmi(truth, KMeans(n_clusters=k, n_init=10, random_state=s).fit(x).labels_)
            for s in range(a.seeds)]
    print(json.dumps({
        "passages": len(ids), "labels": int(truth.max()) + 1, "k": k,
        "semclust_nmi_mean": round(float(np.mean(ours)), 4),
        "semclust_nmi": [round(v, 4) for v in ours],
        "sklearn_nmi_mean": round(float(np.mean(peer)), 4),
        "sklearn_nmi": [round(v, 4) for v in peer],
        "sklearn": sklearn.__version__,
    }))


if __name__ == "__main__":
    main()
