#!/usr/bin/env python3
"""Issue 30: language-neutral similarity, methods compared with numpy and scikit-learn on the
vectors semclust stored (the reference for the Rust implementation, and how it was chosen).

    scripts/real-collections.sh build target/collections debref handbook
    python3 scripts/mixed-sets.py && python3 scripts/mixed-sets.py --source handbook
    cargo build --release
    REF_PY=/path/to/venv/bin/python benches/neutral_reference.py [debref|handbook ...]

For each source (Debian Reference: target/collections/mixed; the Debian Administrator's
Handbook: target/collections/mixed-handbook) it indexes the sets once (target/tmp/neutral-SRC-SET)
and embeds the parallel calibration text (crates/semclust-core/assets/parallel-gettext.jsonl.gz) once per language
(target/tmp/neutral-calibration). Then, per method:
  themes      k-means (k = the number of topics, 3 seeds x 10 restarts), NMI against the topic
              and the language, themes over 60 % one language; on balanced, confounded, english
  search      dense hit@1 of the cross-lingual questions into balanced, and the share of the top
              10 in the question's language over that language's share of the collection
  related     pairs set: for each German passage, its nearest passages outside its document:
              the English version of its section first (share), German share of the top 10
The methods are transforms of the stored vectors (unit length again after each):
  raw         the model's vectors
  mean        each language's mean over the collection subtracted (Libovicky et al. 2020)
  calib       each language's offset from English on the parallel text subtracted
  lir-R       the top R principal directions of the languages' means on the parallel text
              (56 languages) projected out, no language needed (cf. Yang et al. 2021, LIR)
  sub-R       each language's collection mean subtracted, but only its part inside the
              language subspace of lir-R (a topic that only one language writes about lies
              mostly outside it, so it is kept); queries projected as in lir-R
  procrustes  each language rotated onto English (orthogonal Procrustes on the parallel text);
              -m and -x held to the identity where the messages do not fix the rotation;
              procr-m+span: procrustes-m, then span-0.1
              (METHODS=raw,procrustes,... runs only the methods named)
  span-S      semclust's choice (crates/semclust-core/src/neutral.rs): the span of W^-1 d_l projected out, d_l each
              language's mean minus the mean of the means, W the covariance of the messages
              around their language's mean shrunk by S towards the identity; the first 200
              messages, as semclust fits it
"""
import gzip
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_python import require  # noqa: E402

require("numpy", "sklearn")
import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score as nmi  # noqa: E402

BIN = os.environ.get("SEMCLUST_BIN", "target/release/semclust")
ROOTS = {"debref": "target/collections/mixed", "handbook": "target/collections/mixed-handbook"}
CAL = "target/tmp/neutral-calibration"
SEEDS = int(os.environ.get("SEEDS", "3"))
SPAN_MESSAGES = 200


def run(*args, stdin=None):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True,
                          input=stdin).stdout


def embed(texts, path, query=False):
    if not os.path.exists(path):
        args = ["embed", "-", "--format", "npy", "-o", path, "-q"]
        run(*(args + ["--query"] if query else args), stdin="\n".join(texts) + "\n")
    return np.load(path)


def load(src, name):
    root = ROOTS[src]
    index = f"target/tmp/neutral-{src}-{name}"
    if not os.path.isdir(index):
        run("index", "-q", "--index", index, os.path.join(root, name))
    labels = {}
    with open(os.path.join(root, name, "labels.tsv"), encoding="utf-8") as f:
        for line in f:
            key, topic, lang = line.rstrip("\n").split("\t")
            labels[key] = (topic, lang)
    db = sqlite3.connect(os.path.join(index, "index.sqlite"))
    rows = list(db.execute("select document, vector from passages order by id"))
    x = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows]).astype(np.float64)
    doc = np.array([d for d, _ in rows])
    return x, np.array([labels[d][0] for d in doc]), np.array([labels[d][1] for d in doc]), doc


def articles(index):
    """Each passage's article (document#article key), in the order of `load`."""
    db = sqlite3.connect(os.path.join(index, "index.sqlite"))
    return np.array([f"{d}#{a}" for d, a in
                     db.execute("select document, article from passages order by id")])


def less_article_mean(x, art, share):
    """Each passage less `share` of its article's mean (articles of one passage unchanged), unit
    length again: where `related --other-articles` starts from (share 0.5 in semclust)."""
    xr = x.copy()
    for k in set(art):
        i = np.where(art == k)[0]
        if len(i) > 1:
            xr[i] = x[i] - share * x[i].mean(0)
    return unit(xr)


def related_pairs(y, q, lang, doc, art, penalty=None):
    """From each German passage (`q`, its starting vector) of a pairs set, the passages of `y`
    outside its article ranked by cosine (less `penalty` per passage, if given): the share
    whose first is the English version of its section, and the German share of the top 10."""
    de = np.where(lang == "de")[0]
    s = q[de] @ y.T
    if penalty is not None:
        s -= penalty[None, :]
    s[art[de][:, None] == art[None, :]] = -9
    top = np.argsort(-s, axis=1)[:, :10]
    first = np.mean([doc[t[0]] == d[:-3] + ".en" for t, d in zip(top, doc[de])])
    return first, np.mean(lang[top] == "de")


def calibration():
    """Per language: the embedded messages, as {msg index: vector}."""
    os.makedirs(CAL, exist_ok=True)
    with gzip.open("crates/semclust-core/assets/parallel-gettext.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    langs = sorted({l for r in rows for l in r})
    out = {}
    for l in langs:
        idx = [i for i, r in enumerate(rows) if l in r]
        v = embed([rows[i][l] for i in idx], f"{CAL}/{l}.npy")
        out[l] = dict(zip(idx, v.astype(np.float64)))
    return out


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class Method:
    """A transform: passages by their language; queries with or without their language."""

    def __init__(self, name, passage, query):
        self.name, self.passage, self.query = name, passage, query


def methods(cal, x, lang):
    langs = sorted(set(lang))
    coll_mean = {l: x[lang == l].mean(0) for l in langs}
    centre = np.mean([coll_mean[l] for l in langs], axis=0)
    # Offsets from English on the messages both have.
    offset = {}
    for l in cal:
        common = [i for i in cal[l] if i in cal["en"]]
        offset[l] = np.mean([cal[l][i] - cal["en"][i] for i in common], axis=0)
    all_means = np.stack([np.mean(list(cal[l].values()), axis=0) for l in sorted(cal)])
    _, _, vt = np.linalg.svd(all_means - all_means.mean(0), full_matrices=False)
    out = [Method("raw", lambda v, l: v, lambda q, l: q)]
    out.append(Method("mean", lambda v, l: v - coll_mean[l], lambda q, l: q - coll_mean.get(l, centre)))
    out.append(Method("calib", lambda v, l: v - offset[l], lambda q, l: q - offset[l]))
    for r in (5, 20, 55):
        basis = vt[:r]
        proj = lambda v, b=basis: v - (v @ b.T) @ b
        out.append(Method(f"lir-{r}", lambda v, l, p=proj: p(v), lambda q, l, p=proj: p(q)))
        sub = {l: ((coll_mean[l] - centre) @ basis.T) @ basis for l in langs}
        out.append(Method(f"sub-{r}", lambda v, l, s=sub: v - s[l], lambda q, l, p=proj: p(q)))
    # The discriminant span (semclust's choice, src/neutral.rs): W the content covariance
    # (messages around their language's mean), shrunk; remove span{W^-1 d_l}.
    by_lang = [np.stack([v for i, v in cal[l].items() if i < SPAN_MESSAGES]) for l in sorted(cal)]
    by_lang = [v for v in by_lang if len(v) >= 50]
    means = np.stack([v.mean(0) for v in by_lang])
    w = sum((v - v.mean(0)).T @ (v - v.mean(0)) for v in by_lang) / sum(len(v) for v in by_lang)
    d = means - means.mean(0)
    for shrink in (0.1, 0.5):
        wr = (1 - shrink) * w + shrink * np.trace(w) / len(w) * np.eye(len(w))
        q, _ = np.linalg.qr(np.linalg.solve(wr, d.T))
        basis = q[:, : len(d) - 1].T
        proj = lambda v, b=basis: v - (v @ b.T) @ b
        out.append(Method(f"span-{shrink}", lambda v, l, p=proj: p(v), lambda q, l, p=proj: p(q)))
    # Linear maps per language (the first direction): each language's vectors rotated
    # onto English by orthogonal Procrustes on the messages both have (R = U V^T from the SVD
    # of X_l^T X_en + lam I; Schonemann 1966, as in cross-lingual word-embedding alignment).
    # With lam = 0 ("procrustes") the 400 messages leave most of the 384 directions' rotation
    # undetermined (short UI strings span few of them), and the passages' content is rotated
    # at random; lam > 0 pins R to the identity there (argmin |X_l R - X_en|^2 + lam |R - I|^2
    # over orthogonal R): lam the mean ("procrustes-m") or the largest ("procrustes-x")
    # singular value of X_l^T X_en. Each passage's and each query's language is needed.
    rots = {"procrustes": {}, "procrustes-m": {}, "procrustes-x": {}}
    for l in cal:
        common = sorted(i for i in cal[l] if i in cal["en"])
        m = np.stack([cal[l][i] for i in common]).T @ np.stack([cal["en"][i] for i in common])
        sv = np.linalg.svd(m, compute_uv=False)
        for name, lam in (("procrustes", 0.0), ("procrustes-m", sv.mean()),
                          ("procrustes-x", sv.max())):
            u, _, vt2 = np.linalg.svd(m + lam * np.eye(len(m)))
            rots[name][l] = u @ vt2
    ident = np.eye(x.shape[1])
    for name, rot in rots.items():
        out.append(Method(name, lambda v, l, r=rot: v @ r.get(l, ident),
                          lambda q, l, r=rot: q @ r.get(l, ident)))
    # Both: rotated onto English first, then the discriminant span (shrinkage 0.1) removed.
    span = {m.name: m for m in out}["span-0.1"]
    rm = rots["procrustes-m"]
    out.append(Method("procr-m+span", lambda v, l: span.passage(v @ rm.get(l, ident), l),
                      lambda q, l: span.query(q @ rm.get(l, ident), l)))
    keep = os.environ.get("METHODS")
    if keep:
        out = [m for m in out if m.name in keep.split(",")]
    return out


def transform(m, x, lang):
    y = np.empty_like(x)
    for l in set(lang):
        y[lang == l] = m.passage(x[lang == l], l)
    return unit(y)


def themes(y, topic, lang):
    k = len(set(topic))
    share = Counter(lang)
    scores = []
    for seed in range(SEEDS):
        t = KMeans(k, n_init=10, random_state=seed).fit(y).labels_
        one = 0
        for c in set(t):
            ls = Counter(lang[t == c])
            l, n = ls.most_common(1)[0]
            if n / (t == c).sum() > 0.6 and share[l] / len(lang) <= 0.6:
                one += 1
        scores.append((nmi(topic, t), nmi(lang, t), one))
    return np.mean(scores, axis=0)


def main():
    sources = [a for a in sys.argv[1:] if a in ROOTS] or list(ROOTS)
    cal = calibration()
    for src in sources:
        sets = {n: load(src, n) for n in ("balanced", "confounded", "english", "pairs")}
        with open(os.path.join(ROOTS[src], "cross-lingual.json"), encoding="utf-8") as f:
            qs = json.load(f)["questions"]
        qv = embed([q["q"] for q in qs], f"target/tmp/neutral-{src}-questions.npy", query=True)
        qlang = np.array([q["lang"] for q in qs])
        answer = np.array([q["document"] for q in qs])
        print(f"## {src}: " + ", ".join(f"{n} {len(v[0])} passages" for n, v in sets.items())
              + f", {len(qs)} questions")
        print(f"{'method':10} {'balanced topic/lang/1-lang':>28} {'confounded':>11} {'english':>8}"
              f" {'search@1':>9} {'own/share':>10} {'related@1':>10} {'own@10':>7}")
        for mi in range(len(methods(cal, *sets["balanced"][0:1], sets["balanced"][2]))):
            row = {}
            for name in ("balanced", "confounded", "english"):
                x, topic, lang, doc = sets[name]
                m = methods(cal, x, lang)[mi]
                row[name] = themes(transform(m, x, lang), topic, lang)
            # search
            x, topic, lang, doc = sets["balanced"]
            m = methods(cal, x, lang)[mi]
            y = transform(m, x, lang)
            q = np.stack([m.query(qv[i:i + 1].astype(np.float64), qlang[i])[0]
                          for i in range(len(qs))])
            s = unit(q) @ y.T
            top = np.argsort(-s, axis=1)[:, :10]
            hit1 = np.mean(doc[top[:, 0]] == answer)
            shares = Counter(lang)
            ratio = np.mean([np.mean(lang[t] == ql) / (shares[ql] / len(lang))
                             for t, ql in zip(top, qlang)])
            # related on pairs
            x, topic, lang, doc = sets["pairs"]
            m = methods(cal, x, lang)[mi]
            y = transform(m, x, lang)
            de = np.where(lang == "de")[0]
            s = y[de] @ y.T
            s[doc[de][:, None] == doc[None, :]] = -9
            top = np.argsort(-s, axis=1)[:, :10]
            first = np.mean([doc[t[0]] == d[:-3] + ".en" for t, d in zip(top, doc[de])])
            own = np.mean(lang[top] == "de")
            b, c, e = row["balanced"], row["confounded"], row["english"]
            print(f"{m.name:10} {b[0]:>10.3f} {b[1]:.3f} {b[2]:>4.1f} {c[0]:>11.3f} {e[0]:>8.3f}"
                  f" {hit1:>9.3f} {ratio:>10.2f} {first:>10.3f} {own:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
