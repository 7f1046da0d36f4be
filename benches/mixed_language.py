#!/usr/bin/env python3
"""How far language outweighs meaning (issue 30): themes, search and related passages on the
mixed-language sets of scripts/mixed-sets.py, run through the semclust CLI and scored with
scikit-learn's NMI (someone else's implementation).

    scripts/real-collections.sh build target/collections debref handbook
    python3 scripts/mixed-sets.py && python3 scripts/mixed-sets.py --source handbook
    cargo build --release
    REF_PY=/path/to/venv/bin/python benches/mixed_language.py [debref|handbook ...] \
        [--views neutral,titles,model]

Sources: debref (Debian Reference, target/collections/mixed) and handbook (the Debian
Administrator's Handbook, target/collections/mixed-handbook). Views: `neutral` (the default of
every command: in themes, each passage also less half its article's mean vector), `titles`
(themes only: the same with `--with-titles`, the vectors as stored) and `model` (`--no-neutral`:
the model's own vectors). Per source and view:
- themes, on balanced, confounded and english: `themes --k TOPICS --json --seed S` (S = 1, 2, 3,
  averaged); NMI of the themes
  against the topic, the language and the document; themes over 60 % one language (where
  that language holds at most 60 % of the set); and the floor: NMI(language, topic) of the
  set itself, what a perfect topic clustering would score against the language;
- search, on balanced: `eval` of the cross-lingual questions (hit@1, dense and hybrid), and per
  question the share of the default search's top 10 in the question's language over that
  language's share of the collection;
- related, on pairs: `related ID --other-articles -k 10` from every German passage (up to
  RELATED_MAX, evenly spread): the English version of its section first (share) and the
  German share of the top 10.
Indexes are made once, in target/tmp/neutral-SOURCE-SET.
"""
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict

BIN = os.environ.get("SEMCLUST_BIN", "target/release/semclust")
ROOTS = {"debref": "target/collections/mixed", "handbook": "target/collections/mixed-handbook"}
SETS = ["balanced", "confounded", "english"]
RELATED_MAX = int(os.environ.get("RELATED_MAX", "300"))
THEME_SEEDS = int(os.environ.get("THEME_SEEDS", "3"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_python import require  # noqa: E402

require("sklearn")
from sklearn.metrics import normalized_mutual_info_score as nmi  # noqa: E402


def run(*args):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


def labels(root, name):
    out = {}
    with open(os.path.join(root, name, "labels.tsv"), encoding="utf-8") as f:
        for line in f:
            key, topic, lang = line.rstrip("\n").split("\t")
            out[key] = (topic, lang)
    return out


def index_of(src, name):
    index = f"target/tmp/neutral-{src}-{name}"
    if not os.path.isdir(index):
        run("index", "-q", "--index", index, os.path.join(ROOTS[src], name))
    return index


def themes(src, name, flags):
    """The figures of `themes_once`, averaged over THEME_SEEDS seeds (one k-means run's NMI
    moves by a few points with its seed)."""
    runs = [themes_once(src, name, flags, seed) for seed in range(1, THEME_SEEDS + 1)]
    out = dict(runs[0])
    for key in ("topic", "language", "document", "one_language", "seconds"):
        out[key] = sum(r[key] for r in runs) / len(runs)
    return out


def themes_once(src, name, flags, seed):
    lab = labels(ROOTS[src], name)
    k = str(len({t for t, _ in lab.values()}))
    started = time.time()
    t = json.loads(run("themes", "--index", index_of(src, name), "--k", k, "--json", "-q",
                       "--seed", str(seed), *flags))
    seconds = time.time() - started
    ps = t["passages"]
    theme = [p["theme"] for p in ps]
    topic = [lab[p["document"]][0] for p in ps]
    lang = [lab[p["document"]][1] for p in ps]
    doc = [p["document"] for p in ps]
    share = Counter(lang)
    by_theme = defaultdict(list)
    for th, l in zip(theme, lang):
        by_theme[th].append(l)
    one = sum(
        1 for ls in by_theme.values()
        if max(Counter(ls).values()) / len(ls) > 0.6
        and share[Counter(ls).most_common(1)[0][0]] / len(lang) <= 0.6
    )
    return {
        "topic": nmi(topic, theme), "language": nmi(lang, theme), "document": nmi(doc, theme),
        "one_language": one, "k": int(k), "floor": nmi(lang, topic), "seconds": seconds,
        "vectors": t["facts"].get("vectors", "model"),
    }


def search(src, flags):
    index = index_of(src, "balanced")
    questions = os.path.join(ROOTS[src], "cross-lingual.json")
    out = {}
    for line in run("eval", questions, "--index", index, "--json", "-q",
                    "--modes", "dense,hybrid", *flags).splitlines():
        s = json.loads(line)
        out[s["mode"]] = s["passage_at_1"]
    lab = labels(ROOTS[src], "balanced")
    share = Counter(l for _, l in lab.values())
    total = sum(share.values())
    with open(questions, encoding="utf-8") as f:
        qs = json.load(f)["questions"]
    ratios = []
    for q in qs:
        hits = [json.loads(h) for h in run("search", q["q"], "--index", index, "-k", "10",
                                            "--json", "-q", *flags).splitlines()]
        if hits:
            own = sum(lab[h["document"]][1] == q["lang"] for h in hits) / len(hits)
            ratios.append(own / (share[q["lang"]] / total))
    out["own_language_ratio"] = sum(ratios) / len(ratios)
    return out


def german_passages(index):
    import sqlite3
    db = sqlite3.connect(os.path.join(index, "index.sqlite"))
    return [r[0] for r in db.execute(
        "select id from passages where document like '%.de' order by id")]


def related_pairs(src, flags):
    index = index_of(src, "pairs")
    ids = german_passages(index)
    step = max(1, len(ids) // RELATED_MAX)
    ids = ids[::step][:RELATED_MAX]
    first, german, started = 0, 0.0, time.time()
    for pid in ids:
        hits = [json.loads(h) for h in run("related", pid, "--other-articles", "--index", index,
                                            "-k", "10", "--json", "-q", *flags).splitlines()]
        doc = pid.split("/")[0]
        if hits and hits[0]["document"] == doc[:-3] + ".en":
            first += 1
        german += sum(h["document"].endswith(".de") for h in hits) / max(1, len(hits))
    return {"english_version_first": first / len(ids), "german_share": german / len(ids),
            "passages": len(ids), "seconds_per_call": (time.time() - started) / len(ids)}


def main():
    args = sys.argv[1:]
    views = ["neutral", "titles", "model"]
    if "--views" in args:
        views = args[args.index("--views") + 1].split(",")
    sources = [a for a in args if a in ROOTS] or list(ROOTS)
    for src in sources:
        for view in views:
            # neutral: the default (language-neutral view, each passage less half its
            # article's mean in themes); model: --no-neutral; titles: the neutral view with the
            # vectors as stored in themes (--with-titles; search and related are as neutral).
            flags = {"model": ["--no-neutral"], "titles": ["--with-titles"]}.get(view, [])
            print(f"## {src}, {view} vectors", flush=True)
            for name in SETS:
                r = themes(src, name, flags)
                print(f"themes {name:10} k={r['k']:2}: NMI topic {r['topic']:.3f}, language "
                      f"{r['language']:.3f} (floor {r['floor']:.3f}), document "
                      f"{r['document']:.3f}; themes > 60 % one language: {r['one_language']:.1f}; "
                      f"{r['seconds']:.1f} s ({r['vectors']})", flush=True)
            if view == "titles":
                continue
            s = search(src, flags)
            print(f"search balanced: hit@1 dense {s['dense']:.3f}, hybrid {s['hybrid']:.3f}; "
                  f"top 10 in the question's language / its share: "
                  f"{s['own_language_ratio']:.2f}", flush=True)
            r = related_pairs(src, flags)
            print(f"related pairs ({r['passages']} German passages): English version first "
                  f"{r['english_version_first']:.3f}, German share of the top 10 "
                  f"{r['german_share']:.2f} ({1000 * r['seconds_per_call']:.0f} ms per call)",
                  flush=True)


if __name__ == "__main__":
    main()
