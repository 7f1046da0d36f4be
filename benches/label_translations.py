#!/usr/bin/env python3
"""Issue 30, item 3: in a mixed-language collection, key terms that translate each other count
as one. semclust's themes on the balanced mixed sets of both sources (k = the number of topics,
seeds 1-3), checked against FreeDict's word pairs (scripts/term-pairs.py; two words translate
each other when they are a pair, or translate one same English word):

    python3 scripts/term-pairs.py target/collections/debref/en target/collections/term-pairs-debref.tsv
    python3 scripts/term-pairs.py target/collections/handbook/en target/collections/term-pairs-handbook.tsv
    REF_PY=/path/to/venv/bin/python python3 benches/label_translations.py [--no-neutral]

Per theme, averaged: its key terms as listed (`entries`), the words they hold (`words`: an
entry and the terms merged into it), the merges made, and the dictionary pairs still listed as
two entries (`apart`). Over all runs, the merges are sorted into those the dictionary confirms,
those of two forms of one word (a common beginning of at least 5 letters and 3/4 of the shorter:
`partição`, `partições`), and the others, which are printed to be read.
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mixed_language import ROOTS, index_of, labels, run  # noqa: E402


def pivots(path):
    """word -> the English words it is or translates (lower case)."""
    out = collections.defaultdict(set)
    with open(path, encoding="utf-8") as f:
        for line in f:
            _, en, tr = line.rstrip("\n").split("\t")
            out[en.lower()].add(en.lower())
            out[tr.lower()].add(en.lower())
    return out


def same_word(a, b):
    a, b = a.lower(), b.lower()
    common = len(os.path.commonprefix([a, b]))
    return common >= 5 and common * 4 >= 3 * min(len(a), len(b))


def main():
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    for src in ROOTS:
        pairs = f"target/collections/term-pairs-{src}.tsv"
        if not os.path.exists(pairs):
            sys.exit(f"{pairs} is missing: run scripts/term-pairs.py (see this script's doc)")
        piv = pivots(pairs)
        translate = lambda a, b: bool(piv.get(a.lower(), set()) & piv.get(b.lower(), set()))
        index = index_of(src, "balanced")
        k = len({t for t, _ in labels(ROOTS[src], "balanced").values()})
        tot = collections.Counter()
        others = collections.Counter()
        for seed in (1, 2, 3):
            t = json.loads(run("themes", "--index", index, "--k", str(k), "--json", "-q",
                               "--seed", str(seed), *flags))
            for th in t["themes"]:
                tot["themes"] += 1
                entries = th["terms"]
                tot["entries"] += len(entries)
                for e in entries:
                    also = e.get("also", [])
                    tot["words"] += 1 + len(also)
                    for a in also:
                        tot["merges"] += 1
                        if translate(e["term"], a):
                            tot["confirmed"] += 1
                        elif same_word(e["term"], a):
                            tot["forms"] += 1
                        else:
                            others[(e["term"], a)] += 1
                heads = [e["term"] for e in entries]
                tot["apart"] += sum(translate(a, b) for i, a in enumerate(heads)
                                    for b in heads[i + 1:])
            label_lang = t["facts"].get("label_language")
        n = tot["themes"]
        print(f"{src} (k = {k}, label language {label_lang}, {' '.join(flags) or 'default'}): "
              f"per theme {tot['entries'] / n:.1f} entries holding {tot['words'] / n:.1f} words, "
              f"{tot['merges'] / n:.2f} merges, {tot['apart'] / n:.2f} dictionary pairs apart; "
              f"of the {tot['merges']} merges {tot['confirmed']} by the dictionary, "
              f"{tot['forms']} forms of one word, {sum(others.values())} others:")
        print("    " + ", ".join(f"{a} <- {b}" + (f" ×{c}" if c > 1 else "")
                               for (a, b), c in sorted(others.items())))


if __name__ == "__main__":
    main()
