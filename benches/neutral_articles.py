#!/usr/bin/env python3
"""Issue 30: the language views followed by the themes' article rule, emulated in numpy +
scikit-learn on the vectors semclust stored (what `semclust themes` clusters by default: the
view, then each article's passages less what sets the article apart from its 10 nearest
articles, crates/semclust-core/src/cluster/mod.rs, `reduce_articles`).

    REF_PY=/path/to/venv/bin/python benches/neutral_articles.py

Needs the sets and the calibration embeddings of benches/neutral_reference.py (run it first).
Prints, per source, set and view, the themes' NMI against the topic and the language at
k = the number of topics (3 seeds x 10 restarts).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("METHODS", "raw,span-0.1,procrustes-m")
import neutral_reference as nr  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score as nmi  # noqa: E402

NEIGHBOURS = 10


def articles(src, name):
    return nr.articles(f"target/tmp/neutral-{src}-{name}")


def reduce(y, art):
    """Each article's passages less (its mean - the mean of its nearest articles' means)."""
    keys = sorted(set(art))
    idx = {k: np.where(art == k)[0] for k in keys}
    means = np.stack([y[idx[k]].mean(0) for k in keys])
    um = nr.unit(means)
    nn = min(NEIGHBOURS, len(keys) // 2)
    s = um @ um.T
    np.fill_diagonal(s, -9)
    out = y.copy()
    for a, k in enumerate(keys):
        if len(idx[k]) < 2:
            continue
        near = np.argsort(-s[a])[:nn]
        out[idx[k]] = y[idx[k]] - (means[a] - means[near].mean(0))
    return nr.unit(out)


def main():
    cal = nr.calibration()
    for src in ("debref", "handbook"):
        for name in ("balanced", "confounded", "english"):
            x, topic, lang, _ = nr.load(src, name)
            art = articles(src, name)
            k = len(set(topic))
            for m in nr.methods(cal, x, lang):
                y = reduce(nr.transform(m, x, lang), art)
                r = np.mean([(nmi(topic, t), nmi(lang, t)) for t in
                             (KMeans(k, n_init=10, random_state=s).fit(y).labels_
                              for s in range(nr.SEEDS))], axis=0)
                print(f"{src} {name:10} {m.name:14} topic {r[0]:.3f} language {r[1]:.3f}",
                      flush=True)


if __name__ == "__main__":
    main()
