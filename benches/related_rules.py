#!/usr/bin/env python3
"""Issue 30: which vector `related ID --other-articles` should start from and compare in, measured
with numpy on the vectors semclust stored (both sources of benches/neutral_reference.py; run it
first).

    REF_PY=/path/to/venv/bin/python benches/related_rules.py

1. The starting passage less a share of its own article's mean (semclust: 0.5,
   RELATED_ARTICLE_SHARE), or less a share of what sets its article apart from its 10 nearest
   articles (the themes' rule), found in the model's space or in the view. Pairs set: from each
   German passage, the English version of its section first, German share of the top 10.
2. The space compared in: the model's vectors, semclust's view (span-0.1), each language's
   collection mean removed (Libovicky et al. 2020), or both. Besides pairs: from every third
   passage of balanced and confounded, the share of its top 10 (outside its article) with its
   topic, and in its own language.
"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("METHODS", "raw,span-0.1,mean")
import neutral_reference as nr  # noqa: E402
import numpy as np  # noqa: E402

NEIGHBOURS = 10


def articles(src, name):
    return nr.articles(f"target/tmp/neutral-{src}-{name}")


def span(cal, x, lang):
    return next(m for m in nr.methods(cal, x, lang) if m.name == "span-0.1")


def pairs_figures(y, q, lang, doc, art):
    first, german = nr.related_pairs(y, q, lang, doc, art)
    return f"version first {first:.3f} German share {german:.2f}"


def starting_points(cal, src):
    x, _, lang, doc = nr.load(src, "pairs")
    art = articles(src, "pairs")
    view = span(cal, x, lang)
    y = nr.transform(view, x, lang)
    for share in (0, 0.25, 0.5, 0.75, 1.0):
        q = nr.transform(view, nr.less_article_mean(x, art, share), lang)
        print(f"{src:8} own article's mean x {share:<4}  {pairs_figures(y, q, lang, doc, art)}",
              flush=True)
    keys = sorted(set(art))
    idx = {k: np.where(art == k)[0] for k in keys}
    means = np.stack([x[idx[k]].mean(0) for k in keys])
    for space, m in (("model", nr.unit(means)),
                     ("view", nr.unit(np.stack([y[idx[k]].mean(0) for k in keys])))):
        s = m @ m.T
        np.fill_diagonal(s, -9)
        for share in (0.5, 1.0):
            xr = x.copy()
            for a, k in enumerate(keys):
                if len(idx[k]) > 1:
                    near = np.argsort(-s[a])[:NEIGHBOURS]
                    xr[idx[k]] = x[idx[k]] - share * (means[a] - means[near].mean(0))
            q = nr.transform(view, nr.unit(xr), lang)
            print(f"{src:8} distinct part ({space}) x {share:<4} "
                  f"{pairs_figures(y, q, lang, doc, art)}", flush=True)


def spaces(cal, src):
    rows = {}
    for name in ("pairs", "balanced", "confounded"):
        x, topic, lang, doc = nr.load(src, name)
        art = articles(src, name)
        xr = nr.less_article_mean(x, art, 0.5)
        ms = nr.methods(cal, x, lang)
        langs = sorted(set(lang))
        for m in ms + [None]:
            if m is None:  # the view, then each language's collection mean in it
                view = span(cal, x, lang)
                ys, qs = nr.transform(view, x, lang), nr.transform(view, xr, lang)
                for l in langs:
                    mu = ys[lang == l].mean(0)
                    ys[lang == l] -= mu
                    qs[lang == l] -= mu
                y, q, label = nr.unit(ys), nr.unit(qs), "span-0.1+mean"
            else:
                y, q, label = nr.transform(m, x, lang), nr.transform(m, xr, lang), m.name
            if name == "pairs":
                rows.setdefault(label, []).append(pairs_figures(y, q, lang, doc, art))
                continue
            sel = np.arange(0, len(x), 3)
            s = q[sel] @ y.T
            s[art[sel][:, None] == art[None, :]] = -9
            top = np.argsort(-s, axis=1)[:, :10]
            rows.setdefault(label, []).append(
                f"{name} topic {np.mean(topic[top] == topic[sel][:, None]):.3f} "
                f"own language {np.mean(lang[top] == lang[sel][:, None]):.2f}")
    for label, v in rows.items():
        print(f"{src:8} {label:14} " + " | ".join(v), flush=True)


def misses_by_length(cal, src):
    """semclust's rule (view, half the own article's mean): where the version is not first."""
    x, _, lang, doc = nr.load(src, "pairs")
    art = articles(src, "pairs")
    db = sqlite3.connect(f"target/tmp/neutral-{src}-pairs/index.sqlite")
    length = np.array([len(t) for (t,) in db.execute("select text from passages order by id")])
    view = span(cal, x, lang)
    y, q = nr.transform(view, x, lang), nr.transform(view, nr.less_article_mean(x, art, 0.5), lang)
    de = np.where(lang == "de")[0]
    s = q[de] @ y.T
    s[art[de][:, None] == art[None, :]] = -9
    first = np.argmax(s, axis=1)
    hit = np.array([doc[f] == d[:-3] + ".en" for f, d in zip(first, doc[de])])
    german = np.mean(lang[first[~hit]] == "de")
    parts = []
    for lo, hi in ((0, 80), (80, 200), (200, 500), (500, 1 << 30)):
        sel = (length[de] >= lo) & (length[de] < hi)
        parts.append(f"{lo}-{hi if hi < 1 << 30 else ''} chars: {sel.sum()} passages, "
                     f"missed {1 - hit[sel].mean():.3f}")
    print(f"{src:8} missed {(~hit).sum()} of {len(hit)}, first hit German in {german:.2f} of "
          f"them; " + "; ".join(parts), flush=True)


def main():
    cal = nr.calibration()
    for src in ("debref", "handbook"):
        starting_points(cal, src)
        spaces(cal, src)
        misses_by_length(cal, src)


if __name__ == "__main__":
    main()
