"""scikit-learn's KMeans on the data `cargo bench --bench kmeans_scale` wrote: the same k, one
k-means++ start (n_init=1), the same number of Lloyd iterations (tol=0), all cores; median of 3
for each seed of --seeds (random_state; each draws another start).

    python benches/peers/kmeans_peer.py --dir target/kmeans-bench --n 100000 --k 20 --iterations 30 [--seeds 0,1,2]

Prints one JSON object per seed, the same fields as kmeans_scale. Not a CI dependency: run it from a
reference venv (numpy, scikit-learn).
"""
import argparse
import json
import os
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/kmeans-bench")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--seeds", default="0")
    a = ap.parse_args()
    import sklearn
    from sklearn.cluster import KMeans

    data = np.load(f"{a.dir}/kmeans-{a.n}.npy")
    # The BLAS scikit-learn's Lloyd iterations call, and the kernel it picked for this CPU
    # (OPENBLAS_CORETYPE, if set, forces one; unset, OpenBLAS picks its best).
    try:
        from threadpoolctl import threadpool_info
        blas = [{k: i.get(k) for k in ("internal_api", "architecture", "version", "num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        blas = "threadpoolctl not installed"
    for seed in [int(x) for x in a.seeds.split(",")]:
        times, inertia, n_iter = [], None, None
        for _ in range(3):
            km = KMeans(n_clusters=a.k, n_init=1, max_iter=a.iterations, tol=0.0,
                        init="k-means++", algorithm="lloyd", random_state=seed)
            t = time.perf_counter()
            km.fit(data)
            times.append(time.perf_counter() - t)
            inertia, n_iter = float(km.inertia_), int(km.n_iter_)
        times.sort()
        print(json.dumps({"bench": "kmeans", "engine": "scikit-learn KMeans (lloyd)", "n": a.n,
                          "dim": data.shape[1], "k": a.k, "n_init": 1, "seed": seed,
                          "iterations": a.iterations, "iterations_run": n_iter,
                          "threads": os.cpu_count(), "seconds_median_of_3": times[1],
                          "seconds_min": times[0], "inertia": inertia,
                          "sklearn": sklearn.__version__, "blas": blas}), flush=True)


if __name__ == "__main__":
    main()
