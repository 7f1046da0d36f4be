"""Peers of semclust's search on the data `cargo bench --bench search_scale` wrote: numpy
(matrix-vector product + argpartition), faiss IndexFlatIP and hnswlib, one thread for search.

    python benches/peers/search_peers.py --dir target/search-bench --n 100000 [--build-threads 2]

Prints one JSON object per measurement, the same fields as search_scale, with the process's
huge-page memory (AnonHugePages) and the system's transparent-huge-page mode: semclust asks for
2 MB pages itself (madvise), the peers get them only when the mode is `always`, so run this under
both modes to compare like with like. Not a CI dependency: run it from a reference venv (numpy,
faiss-cpu, hnswlib).
"""
import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

K = 10
PASSES = 5


def huge_pages():
    """This process's anonymous memory in 2 MB pages (MB), and the THP mode in force."""
    mb = 0.0
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                mb = int(line.split()[1]) / 1024
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            mode = f.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        mode = "unknown"
    return {"huge_pages_mb": mb, "thp_mode": mode}


def recall(found, truth):
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/search-bench")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=128)
    a = ap.parse_args()
    data = np.load(f"{a.dir}/data-{a.n}.npy")
    queries = np.load(f"{a.dir}/queries-{a.n}.npy")
    truth = np.load(f"{a.dir}/truth-{a.n}.npy").astype(np.int64)
    nq = len(queries)
    single_n = min(nq, 50 if a.n > 200000 else 200)

    # numpy: one query at a time.
    t = time.perf_counter()
    for q in queries[:single_n]:
        s = data @ q
        top = np.argpartition(-s, K)[:K]
        top[np.argsort(-s[top])]
    np_qps = single_n / (time.perf_counter() - t)
    print(json.dumps({"bench": "exact", "engine": "numpy", "n": a.n, "threads": 1,
                      "single_query_qps": np_qps, "numpy": np.__version__}))

    import faiss
    faiss.omp_set_num_threads(1)
    index = faiss.IndexFlatIP(data.shape[1])
    index.add(data)
    t = time.perf_counter()
    for i in range(single_n):
        index.search(queries[i:i + 1], K)
    f_single = single_n / (time.perf_counter() - t)
    t = time.perf_counter()
    _, ids = index.search(queries, K)
    f_batch = nq / (time.perf_counter() - t)
    print(json.dumps({"bench": "exact", "engine": "faiss IndexFlatIP", "n": a.n, "threads": 1,
                      "single_query_qps": f_single, "batch_qps": f_batch,
                      "recall_vs_semclust_exact": recall(ids, truth), "faiss": faiss.__version__,
                      **huge_pages()}))

    import hnswlib
    p = hnswlib.Index(space="ip", dim=data.shape[1])
    p.init_index(max_elements=len(data), ef_construction=a.ef_construction, M=a.m)
    p.set_num_threads(a.build_threads)
    t = time.perf_counter()
    p.add_items(data, np.arange(len(data)))
    build_s = time.perf_counter() - t
    p.set_num_threads(1)
    for ef in (32, 64, 128):
        p.set_ef(ef)
        # All queries in one call on one thread: the loop runs in C++, so no Python overhead per
        # query is counted against hnswlib. Median of PASSES passes (a pass at ~5k q/s lasts
        # only 0.2 s, too short to trust alone on a shared VM).
        rates = []
        for _ in range(PASSES):
            t = time.perf_counter()
            found = p.knn_query(queries, k=K, num_threads=1)[0]
            rates.append(nq / (time.perf_counter() - t))
        qps = float(np.median(rates))
        print(json.dumps({"bench": "hnsw", "engine": "hnswlib", "n": a.n, "m": a.m,
                          "ef_construction": a.ef_construction, "ef_search": ef,
                          "build_threads": a.build_threads, "build_s": build_s,
                          "search_threads": 1, "passes": PASSES, "qps": qps,
                          "recall_at_10": recall(found, truth), **huge_pages()}))


if __name__ == "__main__":
    main()
