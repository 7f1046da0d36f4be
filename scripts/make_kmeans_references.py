#!/usr/bin/env python3
"""k-means and silhouette references by scikit-learn, for tests/themes.rs.

Run by hand (not in CI), in a virtual environment outside the repository with numpy and
scikit-learn:

    python3 -m venv ~/venv-sk && ~/venv-sk/bin/pip install numpy scikit-learn
    ~/venv-sk/bin/python scripts/make_kmeans_references.py

The vectors are transformers' f32 embeddings of the 98 sample-corpus passages
(tests/fixtures/parity/e5_f32_passages.npy, made by scripts/make_references.py), so neither the
data nor the expected values come from semclust. For k = 2..10 it writes, to
tests/fixtures/parity/kmeans_sklearn.json:

  start      the rows used as initial centroids: numpy.linspace(0, n - 1, k) rounded down
  labels     KMeans(init=those rows, n_init=1, algorithm="lloyd", tol=0, max_iter=1000) labels
  n_iter     its iterations
  inertia    its inertia (sum of squared distances to the final centroids)
  silhouette sklearn.metrics.silhouette_score of those labels (Euclidean)
  start_inertia  the inertia of the starting centroids themselves, by
             sklearn.metrics.pairwise_distances_argmin_min

and, to tests/fixtures/parity/kmeans_sklearn_restarts.json, the inertia of scikit-learn's best
of 10 k-means++ restarts (KMeans(n_init=10, random_state=0, tol=0, max_iter=1000)) for k = 2..6:
the bound a clustering whose restarts ran on a sample of the rows is held to.
"""
import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin_min, silhouette_score

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT / "tests" / "fixtures" / "parity"


def main():
    x = np.load(PARITY / "e5_f32_passages.npy").astype(np.float32)
    n = x.shape[0]
    out = {"sklearn": sklearn.__version__, "numpy": np.__version__,
           "vectors": "e5_f32_passages.npy", "rows": n, "runs": []}
    for k in range(2, 11):
        start = np.linspace(0, n - 1, k).astype(int)
        init = x[start]
        _, d = pairwise_distances_argmin_min(x, init)
        km = KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd", tol=0.0,
                    max_iter=1000).fit(x)
        out["runs"].append({
            "k": k,
            "start": start.tolist(),
            "start_inertia": float((d.astype(np.float64) ** 2).sum()),
            "labels": km.labels_.tolist(),
            "n_iter": int(km.n_iter_),
            "inertia": float(km.inertia_),
            "silhouette": float(silhouette_score(x, km.labels_, metric="euclidean")),
        })
    path = PARITY / "kmeans_sklearn.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}: k = 2..10 over {n} vectors, scikit-learn {sklearn.__version__}")
    best = {"sklearn": sklearn.__version__, "vectors": "e5_f32_passages.npy", "rows": n,
            "runs": []}
    for k in range(2, 7):
        km = KMeans(n_clusters=k, init="k-means++", n_init=10, algorithm="lloyd", tol=0.0,
                    max_iter=1000, random_state=0).fit(x)
        best["runs"].append({"k": k, "inertia": float(km.inertia_)})
    path = PARITY / "kmeans_sklearn_restarts.json"
    path.write_text(json.dumps(best, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
