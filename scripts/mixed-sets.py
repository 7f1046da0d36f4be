#!/usr/bin/env python3
"""Mixed-language test sets from Debian Reference (issue 30, item 4), all real text.

    python3 scripts/mixed-sets.py [DEBREF_DIR] [OUT_DIR] [--seed N]
    (defaults: target/collections/debref, target/collections/mixed, seed 7)

DEBREF_DIR is made by `scripts/real-collections.sh build DIR debref`: the same manual's 14 HTML
pages in de, en, es, fr, it and pt, whose sections (`<h2>`) are the same in every language. Each
section becomes a document (`chNN-S.html`, its `<html lang>` set) whose topic is its chapter
(package management, system initialisation, network setup, ...: 12 chapters, the preface and
the appendix). The sets:

  balanced/    (a) every section once, in a language drawn at random (seeded), the six
               languages about equally often;
  confounded/  (b) every section once, each chapter in one language only (chapters dealt to
               the languages in turn): topic and language coincide;
  english/     (c) every section once, in English: the same documents in one language, the
               reference for (a);
  cross-lingual.json  (d) questions into balanced/: each section's heading in every language
               but the one its document is written in, answered by that document (the
               `semclust eval` format).

Each set folder holds labels.tsv: document key, TAB, topic, TAB, language.
"""
import html
import json
import pathlib
import random
import re
import sys

LANGS = ["de", "en", "es", "fr", "it", "pt"]
H2 = re.compile(r'<h2 class="title"[^>]*>(.*?)</h2>', re.S)
NUMBER = re.compile(r"^\s*(?:[A-Z]\.)?\d+(?:\.\d+)*\.\s*")
END = '<div class="navfooter">'


def text_of(fragment: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", "", fragment).split()))


def sections(page: pathlib.Path) -> list:
    """(heading, html) of each `<h2>` section of a page, in order."""
    doc = page.read_text(encoding="utf-8")
    end = doc.find(END)
    doc = doc[: end if end >= 0 else len(doc)]
    found = list(H2.finditer(doc))
    out = []
    for i, m in enumerate(found):
        stop = found[i + 1].start() if i + 1 < len(found) else len(doc)
        out.append((NUMBER.sub("", text_of(m[1])), doc[m.start():stop]))
    return out


def write(folder: pathlib.Path, key: str, lang: str, heading: str, body: str) -> None:
    page = (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(heading)}</title></head><body>\n{body}\n</body></html>\n"
    )
    (folder / f"{key}.html").write_text(page, encoding="utf-8")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seed = 7
    if "--seed" in sys.argv:
        seed = int(sys.argv[sys.argv.index("--seed") + 1])
        args = [a for a in args if a != str(seed)]
    root = pathlib.Path(args[0] if args else "target/collections/debref")
    out = pathlib.Path(args[1] if len(args) > 1 else "target/collections/mixed")
    rng = random.Random(seed)

    # Sections per chapter and language; a chapter counts only where every language has the
    # same number of sections (the translations follow the English source).
    chapters = {}
    for page in sorted((root / "en").glob("*.html")):
        per_lang = {l: sections(root / l / page.name) for l in LANGS}
        counts = {len(s) for s in per_lang.values()}
        if len(counts) != 1 or counts == {0}:
            print(f"skipped {page.stem}: section counts differ {sorted(counts)}", file=sys.stderr)
            continue
        chapters[page.stem] = per_lang

    sets = {name: out / name for name in ("balanced", "confounded", "english")}
    for folder in sets.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.html"):
            old.unlink()
    labels = {name: [] for name in sets}
    questions = []
    # Balanced: languages dealt from shuffled rounds of all six, so each is used about equally.
    deck = []
    for i, (chapter, per_lang) in enumerate(chapters.items()):
        confounded_lang = LANGS[i % len(LANGS)]
        for s in range(len(per_lang["en"])):
            key = f"{chapter}-{s + 1}"
            if not deck:
                deck = LANGS[:]
                rng.shuffle(deck)
            lang = deck.pop()
            for name, l in (("balanced", lang), ("confounded", confounded_lang), ("english", "en")):
                heading, body = per_lang[l][s]
                write(sets[name], key, l, heading, body)
                labels[name].append(f"{key}\t{chapter}\t{l}")
            for q_lang in LANGS:
                if q_lang == lang:
                    continue
                q = per_lang[q_lang][s][0]
                if q and q.casefold() != per_lang[lang][s][0].casefold():
                    questions.append({"lang": q_lang, "q": q, "document": key})
    for name, rows in labels.items():
        (sets[name] / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (out / "cross-lingual.json").write_text(
        json.dumps(
            {
                "name": "debref-mixed-cross-lingual",
                "about": "Section headings of Debian Reference, each asked in the languages its "
                "document in the balanced set is not written in and answered by that document "
                "(made by scripts/mixed-sets.py).",
                "questions": questions,
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    n = len(labels["balanced"])
    print(f"wrote {out}: {len(chapters)} chapters, {n} section documents per set, "
          f"{len(questions)} cross-lingual questions")


if __name__ == "__main__":
    main()
