#!/usr/bin/env python3
"""How far language outweighs meaning (issue 30): themes and search on the mixed-language sets
of scripts/mixed-sets.py, scored with scikit-learn's NMI (someone else's implementation).

    scripts/real-collections.sh build target/collections debref
    python3 scripts/mixed-sets.py
    cargo build --release
    REF_PY=/path/to/venv/bin/python benches/mixed_language.py   # a venv with scikit-learn

For each set (balanced, confounded, english) it indexes the folder once (target/tmp/mixed-SET),
runs `themes --k 14 --json` (14 topics: the chapters) and prints NMI of the themes against the
topic, the language and the document, and the themes whose passages are more than 60 % one
language. On the balanced set it runs `eval` on the cross-lingual questions (hit@1 per mode)
and, per question, the share of the top 10 written in the question's language.
"""
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict

BIN = os.environ.get("SEMCLUST_BIN", "target/release/semclust")
ROOT = os.environ.get("MIXED_DIR", "target/collections/mixed")
SETS = ["balanced", "confounded", "english"]
K = os.environ.get("MIXED_K", "14")

try:
    from sklearn.metrics import normalized_mutual_info_score as nmi
except ImportError:
    ref = os.environ.pop("REF_PY", None)
    if ref:  # once: the child runs without REF_PY
        os.execve(ref, [ref, *sys.argv], os.environ)
    sys.exit("needs scikit-learn: set REF_PY to a Python that has it (a venv outside the repo)")


def run(*args):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


def labels(name):
    out = {}
    with open(os.path.join(ROOT, name, "labels.tsv"), encoding="utf-8") as f:
        for line in f:
            key, topic, lang = line.rstrip("\n").split("\t")
            out[key] = (topic, lang)
    return out


def main():
    for name in SETS:
        index = f"target/tmp/mixed-{name}"
        if not os.path.isdir(index):
            run("index", "-q", "--index", index, os.path.join(ROOT, name))
        lab = labels(name)
        themes = json.loads(run("themes", "--index", index, "--k", K, "--json", "-q"))
        ps = themes["passages"]
        theme = [p["theme"] for p in ps]
        topic = [lab[p["document"]][0] for p in ps]
        lang = [lab[p["document"]][1] for p in ps]
        doc = [p["document"] for p in ps]
        share = Counter(lang)
        by_theme = defaultdict(list)
        for t, l in zip(theme, lang):
            by_theme[t].append(l)
        one_lang = [
            t for t, ls in by_theme.items()
            if max(Counter(ls).values()) / len(ls) > 0.6
            and max(share[l] for l in Counter(ls)) / len(lang) <= 0.6
        ]
        print(f"{name}: {len(ps)} passages, {len(lab)} documents, k = {themes['facts']['k']}: "
              f"NMI topic {nmi(topic, theme):.3f}, language {nmi(lang, theme):.3f}, "
              f"document {nmi(doc, theme):.3f}; themes > 60 % one language: {len(one_lang)}")
        for t in sorted(by_theme):
            c = Counter(by_theme[t]).most_common(2)
            label = next(x["label"] for x in themes["themes"] if x["id"] == t)
            print(f"  {t:>2} {len(by_theme[t]):>5} {c}  {label}")

    index = "target/tmp/mixed-balanced"
    questions = os.path.join(ROOT, "cross-lingual.json")
    for line in run("eval", questions, "--index", index, "--json", "-q").splitlines():
        s = json.loads(line)
        print(f"cross-lingual, {s['mode']}: hit@1 {s['passage_at_1']:.3f}, "
              f"hit@10 {s.get('passage_at_10', float('nan')):.3f}")
    lab = labels("balanced")
    share = Counter(l for _, l in lab.values())
    with open(questions, encoding="utf-8") as f:
        qs = json.load(f)["questions"]
    own = defaultdict(list)
    for q in qs:
        hits = [json.loads(h) for h in run("search", q["q"], "--index", index, "-k", "10",
                                            "--json", "-q").splitlines()]
        if hits:
            own[q["lang"]].append(sum(lab[h["document"]][1] == q["lang"] for h in hits) / len(hits))
    total = sum(share.values())
    for l, xs in sorted(own.items()):
        print(f"  {l}: top 10 in the question's language {sum(xs) / len(xs):.2f} "
              f"(the language holds {share[l] / total:.2f} of the documents)")


if __name__ == "__main__":
    main()
