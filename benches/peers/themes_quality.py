"""Agreement between themes and articles of origin on the sample corpus (k = 5): semclust's
themes beside sentence-transformers embeddings (the same model, f32) clustered by scikit-learn's
KMeans, scored by scikit-learn's NMI and adjusted Rand index against the article labels.

    python benches/peers/themes_quality.py --model-dir E5_ST_DIR OURS_SEED_0.json [OURS_SEED_1.json ...]

OURS_*.json: `semclust themes --k 5 --json --seed S` outputs (benches/peers/compare_themes.sh
writes them). The peer runs KMeans(n_clusters=5, n_init=10) with random_state 0.. for as many
seeds as semclust files, on the same passage texts with the `passage: ` prefix. Prints one JSON
line per run and a Markdown summary. Not a CI dependency: run it from the reference venv.
"""
import argparse
import json
import statistics

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("ours", nargs="+")
    a = ap.parse_args()
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sentence_transformers import SentenceTransformer
    import torch

    torch.set_num_threads(2)
    runs = [json.load(open(p, encoding="utf-8")) for p in a.ours]
    ids = [p["id"] for p in runs[0]["passages"]]
    texts = [p["text"] for p in runs[0]["passages"]]
    articles = [p["document"] + "/" + p["article"] for p in runs[0]["passages"]]
    truth = np.unique(articles, return_inverse=True)[1]

    rows = []
    for path, run in zip(a.ours, runs):
        by_id = {p["id"]: p["theme"] for p in run["passages"]}
        pred = [by_id[i] for i in ids]
        rows.append({"engine": "semclust", "seed": run["facts"]["seed"], "k": run["facts"]["k"],
                     "nmi": normalized_mutual_info_score(truth, pred),
                     "ari": adjusted_rand_score(truth, pred)})
        print(json.dumps(rows[-1]))

    model = SentenceTransformer(a.model_dir, device="cpu")
    emb = model.encode(["passage: " + t for t in texts], batch_size=16,
                       normalize_embeddings=True, convert_to_numpy=True)
    for seed in range(len(runs)):
        km = KMeans(n_clusters=a.k, n_init=10, random_state=seed).fit(emb)
        rows.append({"engine": "sentence-transformers + scikit-learn KMeans", "seed": seed,
                     "k": a.k, "nmi": normalized_mutual_info_score(truth, km.labels_),
                     "ari": adjusted_rand_score(truth, km.labels_)})
        print(json.dumps(rows[-1]))

    print(f"\n{len(ids)} passages, {len(set(articles))} articles, k = {a.k}, "
          f"{len(runs)} seeds each; scikit-learn {sklearn.__version__}")
    print("\n| engine | NMI seed 0 | ARI seed 0 | NMI mean (min–max) | ARI mean (min–max) |")
    print("|---|---|---|---|---|")
    for engine in ("semclust", "sentence-transformers + scikit-learn KMeans"):
        r = [x for x in rows if x["engine"] == engine]
        nmi = [x["nmi"] for x in r]
        ari = [x["ari"] for x in r]
        print(f"| {engine} | {nmi[0]:.3f} | {ari[0]:.3f} | {statistics.mean(nmi):.3f} "
              f"({min(nmi):.3f}–{max(nmi):.3f}) | {statistics.mean(ari):.3f} "
              f"({min(ari):.3f}–{max(ari):.3f}) |")


if __name__ == "__main__":
    main()
