#!/usr/bin/env python3
"""Boilerplate on two real indexes (issue 31): what recurs, whether it reaches the top 10 of
search, and whether it stands for a theme.

Sets: the doc-folder subset of /usr/share/doc (benches/doc-folder.sh builds it) and the English
manual pages of section 1 whose names start with pe or pi plus psmisc's and procps' (built here
when absent). For each set: the texts in 5 documents or more (`docs recurring`), then each
question of benches/boilerplate/questions-SET.tsv searched (hybrid, k = 10) as shipped and with
`--boilerplate` (boilerplate ranked like any passage), then `themes --json`. Whether a hit is
boilerplate is decided here, not by semclust: every stored passage is read back (`docs show`),
normalised the documented way (lower case, digit runs as 0, whitespace collapsed) and its
documents counted, so the check does not lean on the code it checks (it sees exact recurrence
only; semclust also folds near-identical texts).

    cargo build --release && benches/doc-folder.sh && benches/boilerplate.py
"""
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

BIN = os.environ.get("SEMCLUST_BIN", "target/release/semclust")
HERE = os.path.dirname(os.path.abspath(__file__))
MAN_INCLUDE = ["pe*.1.gz", "pi*.1.gz", "killall.1.gz", "fuser.1.gz", "pstree*.1.gz",
               "prtstat.1.gz", "ps.1.gz"]
SETS = [
    ("docs", "target/tmp/doc-folder-index", None),
    ("man", "target/tmp/manpages-index", ["/usr/share/man/man1"]
     + [a for g in MAN_INCLUDE for a in ("--include", g)]),
]
THRESHOLD = 5


def run(*args):
    out = subprocess.run([BIN, *args], check=True, capture_output=True, text=True)
    return out.stdout


def normalise(text):
    out = []
    for word in text.split():
        out.append(re.sub(r"\d+", "0", word.lower()))
    return " ".join(out)


def recurrence(index):
    """Documents per normalised text, over every stored passage."""
    docs = json.loads(run("docs", "list", "--index", index, "--json"))
    holders = defaultdict(set)
    for d in docs:
        shown = json.loads(run("docs", "show", d["key"], "--index", index, "--json"))
        for p in shown["passages"]:
            holders[normalise(p["text"])].add(d["key"])
    return {t: len(ds) for t, ds in holders.items()}, len(docs)


def questions(name):
    with open(os.path.join(HERE, "boilerplate", f"questions-{name}.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                lang, q = line.rstrip("\n").split("\t")
                yield lang, q


def main():
    for name, index, build in SETS:
        if not os.path.isdir(index):
            if build is None:
                sys.exit(f"{index} is missing: run benches/doc-folder.sh first")
            print(f"building {index} ...", file=sys.stderr)
            run("index", "-q", "--index", index, *build)
        counts, ndocs = recurrence(index)
        rec = json.loads(run("docs", "recurring", "--index", index, "--json", "--limit", "20"))
        print(f"\n## {name}: {index}, {ndocs} documents\n")
        print(f"semclust: {rec['texts']} texts in {THRESHOLD} documents or more, "
              f"{rec['passages']} passages; independent exact count: "
              f"{sum(1 for n in counts.values() if n >= THRESHOLD)} texts\n")
        for r in rec["shown"]:
            text = r["text"].replace("\n", " ")[:90]
            print(f"- {r['documents']} documents ({r['passages']} passages): {text}")
        print("\n| lang | question | boilerplate in top 10 (default) | with --boilerplate | folded copies shown |")
        print("|---|---|---|---|---|")
        total_default = total_kept = 0
        for lang, q in questions(name):
            row = []
            for extra in ([], ["--boilerplate"]):
                hits = [json.loads(line) for line in
                        run("search", q, "--index", index, "-k", "10", "--json", *extra).splitlines()]
                row.append(sum(1 for h in hits if counts[normalise(h["text"])] >= THRESHOLD))
                if not extra:
                    folded = sum(1 for h in hits if h.get("appears_in"))
            total_default += row[0]
            total_kept += row[1]
            print(f"| {lang} | {q} | {row[0]} | {row[1]} | {folded} |")
        print(f"\nBoilerplate hits in all top 10s: {total_default} as shipped, "
              f"{total_kept} with --boilerplate.")
        themes = json.loads(run("themes", "--index", index, "--json", "-q"))
        reps = [r for t in themes["themes"] for r in t["representatives"]]
        bad = [r["text"] for r in reps if counts[normalise(r["text"])] >= THRESHOLD]
        print(f"\nThemes: k = {themes['facts']['k']}, {len(reps)} representatives, "
              f"{len(bad)} of them boilerplate; "
              f"{themes['facts']['boilerplate_left_out']} boilerplate passages left out.")
        for t in themes["themes"]:
            print(f"- {t['label']}: " + " / ".join(
                r["text"].replace("\n", " ")[:60] for r in t["representatives"]))


if __name__ == "__main__":
    main()
