#!/usr/bin/env python3
"""Issue 30, "themes follow the titles": what the context in front of each passage
(`title › section`) does to themes, and which correction gives themes that cross articles.

On three real collections of one language, indexed by semclust as a user would:
  - sample:   tests/fixtures/lemonde-ia-2025.md (five articles, no topic labels), k = 5;
  - debref:   the English set of scripts/mixed-sets.py (94 sections, topic = chapter), k = 14;
  - handbook: the same from the Administrator's Handbook (74 sections, 19 chapters), k = 19.

scikit-learn k-means (seeds 0-2, 10 restarts each) clusters, on unit vectors:
  - the contextual vectors as stored, and the passages' text embedded alone (`semclust embed`,
    the reference the issue names);
  - the contextual vectors minus a share of their context's own vector (each distinct
    `title › section` embedded once: a second, smaller embedding pass);
  - the contextual vectors minus a share of their article's mean vector, or of what sets the
    article apart from its nearest articles (its mean less theirs; no embedding at all).
It prints NMI against the articles and the topics, and the number of themes holding >= 3
passages of each of >= 2 articles. Needs the sets (scripts/real-collections.sh and
scripts/mixed-sets.py, both sources) and a Python with numpy and scikit-learn:

    /path/to/venv/bin/python benches/context_reference.py [sample debref handbook]
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

BIN = os.environ.get("SEMCLUST_BIN", "target/release/semclust")
SETS = {
    "sample": ("tests/fixtures/lemonde-ia-2025.md", None, 5),
    "debref": ("target/collections/mixed/english", "target/collections/mixed/english/labels.tsv", 14),
    "handbook": ("target/collections/mixed-handbook/english",
                 "target/collections/mixed-handbook/english/labels.tsv", 19),
}


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


def crossing(labels, article, min_each=3, min_articles=2):
    """Themes holding >= min_each passages of each of >= min_articles articles."""
    n = 0
    for t in set(labels):
        counts = {}
        for l, a in zip(labels, article):
            if l == t:
                counts[a] = counts.get(a, 0) + 1
        n += sum(c >= min_each for c in counts.values()) >= min_articles
    return n


def minus_article_mean(x, article, beta, leave_one_out=False):
    """Each row minus beta x its article's mean (or, leave_one_out, the mean of the article's
    other rows); a one-passage article is left as it is."""
    x = unit(x)
    out = x.copy()
    for a in set(article):
        rows = [i for i, b in enumerate(article) if b == a]
        n = len(rows)
        if n < 2:
            continue
        total = x[rows].sum(0)
        if leave_one_out:
            out[rows] -= beta * (total - x[rows]) / (n - 1)
        else:
            out[rows] -= beta * total / n
    return out


def minus_distinct_part(x, article, beta, neighbours=10):
    """Each row minus beta x what sets its article apart: the article's mean less the mean of
    the means of its `neighbours` nearest articles (cosine of the means); a one-passage article
    is left as it is."""
    x = unit(x)
    arts = sorted(set(article))
    at = np.array([arts.index(a) for a in article])
    means = np.stack([x[at == i].mean(0) for i in range(len(arts))])
    sims = unit(means) @ unit(means).T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argsort(-sims, axis=1)[:, :min(neighbours, len(arts) - 1)]
    distinct = means - means[nearest].mean(1)
    out = x.copy()
    for i in range(len(arts)):
        if (at == i).sum() > 1:
            out[at == i] -= beta * distinct[i]
    return out


def set_index(name):
    """The set's index (made on first use), its topic of each document (empty for the sample)
    and its k. Shared with benches/theme_articles.py."""
    source, labels_path, k = SETS[name]
    index = f"target/tmp/context-{name}"
    if not os.path.isdir(index):
        subprocess.run([BIN, "index", "-q", "--index", index, source], check=True)
    topics = {}
    if labels_path:
        with open(labels_path, encoding="utf-8") as f:
            for line in f:
                key, topic, _ = line.rstrip("\n").split("\t")
                topics[key] = topic
    return index, topics, k


def one_set(name):
    index, topics, k = set_index(name)
    db = sqlite3.connect(os.path.join(index, "index.sqlite"))
    rows = list(db.execute(
        "select document, article, title, section, text, vector, hash from passages "
        "order by document, article, paragraph"))
    stored = np.stack([np.frombuffer(r[5], dtype=np.float32) for r in rows])
    contexts = [f"{r[2]} › {r[3]}" if r[3] else r[2] for r in rows]
    distinct = sorted(set(contexts))
    ctx = embed(distinct)
    ctx = ctx[[distinct.index(c) for c in contexts]]
    alone = embed([r[4] for r in rows])
    article = [f"{r[0]}#{r[1]}" for r in rows]
    topic = [topics.get(r[0]) for r in rows]
    has_topic = all(t is not None for t in topic)

    print(f"\n{name}: {len(rows)} passages, {len(set(article))} articles, "
          f"{len(distinct)} distinct contexts, k = {k}")

    def score(x, tag):
        runs = []
        for seed in range(3):
            km = KMeans(k, n_init=10, random_state=seed).fit(unit(x))
            runs.append((nmi(article, km.labels_),
                         nmi(topic, km.labels_) if has_topic else float("nan"),
                         crossing(km.labels_, article)))
        a, t, c = np.mean(runs, axis=0)
        print(f"  {tag:40s} article {a:.3f}  topic {t:.3f}  crossing themes {c:.1f}")

    score(stored, "contextual (as stored)")
    score(alone, "text alone")
    for a in (0.5, 1.0):
        score(stored - a * ctx, f"contextual - {a} x context vector")
    score(stored - (stored * ctx).sum(1, keepdims=True) * ctx, "contextual minus projection on context")
    for b in (0.5, 0.75, 1.0):
        score(minus_article_mean(stored, article, b), f"contextual - {b} x article mean")
    for b in (0.5, 0.75, 1.0):
        score(minus_article_mean(stored, article, b, True), f"contextual - {b} x others' mean")
    for b, nn in ((0.5, 3), (0.5, 10), (1.0, 3), (1.0, 10)):
        score(minus_distinct_part(stored, article, b, nn),
              f"contextual - {b} x (mean - {nn} nearest means)")


def main():
    for name in sys.argv[1:] or list(SETS):
        one_set(name)


if __name__ == "__main__":
    main()
