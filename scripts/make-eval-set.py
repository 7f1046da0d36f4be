#!/usr/bin/env python3
"""A cross-lingual retrieval question set from Debian Reference, answers known by construction.

    python3 scripts/make-eval-set.py [DEBREF_DIR] [OUT_JSON]
    (defaults: target/collections/debref, tests/fixtures/eval/debref-sections.json)

DEBREF_DIR is made by `scripts/real-collections.sh build DIR debref`: the same manual's HTML
pages in de, en, es, fr, it and pt, whose section headings carry the same anchor in every
language (DocBook ids made from the English source). Each section heading of a translation, its
number left out, is a question; its answer is the English section with the same anchor: a
passage answers when it comes from the same page (`document`, the page's name when the English
folder is indexed alone) and lies in that section or below it (its heading path holds the
English heading, `section`). Headings the translation left in English (the same text) are
skipped, as are chapter titles (they name whole pages).

Evaluate with `semclust eval OUT_JSON --index IDX` after `semclust index DEBREF_DIR/en --index IDX`.
"""
import html
import json
import pathlib
import re
import sys

LANGS = ["de", "es", "fr", "it", "pt"]
HEADING = re.compile(r'<h([2-5]) class="title"[^>]*><a id="([^"]+)"\s*/>(.*?)</h\1>', re.S)
NUMBER = re.compile(r"^\s*(?:[A-Z]\.)?\d+(?:\.\d+)*\.\s*")


def headings(page: pathlib.Path) -> dict:
    text = page.read_text(encoding="utf-8")
    out = {}
    for m in HEADING.finditer(text):
        t = html.unescape(" ".join(re.sub(r"<[^>]+>", "", m[3]).split()))
        out.setdefault(m[2], t)
    return out


def main() -> None:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/collections/debref")
    out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/eval/debref-sections.json")
    questions = []
    skipped = 0
    for page in sorted((root / "en").glob("*.html")):
        english = headings(page)
        for lang in LANGS:
            other = root / lang / page.name
            if not other.exists():
                continue
            for anchor, heading in headings(other).items():
                target = english.get(anchor)
                if target is None:
                    continue
                q = NUMBER.sub("", heading).strip()
                if not q or q.casefold() == NUMBER.sub("", target).strip().casefold():
                    skipped += 1
                    continue
                questions.append(
                    {"lang": lang, "q": q, "document": page.stem, "section": target, "anchor": anchor}
                )
    doc = {
        "name": "debref-sections",
        "about": "Section headings of Debian Reference in de, es, fr, it and pt (their numbers "
        "left out) as questions; the answer is the English section with the same anchor "
        "(document: the page, section: the English heading). Made by scripts/make-eval-set.py "
        "from the debian-reference-* packages; index the English pages alone.",
        "questions": questions,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    per = {l: sum(q["lang"] == l for q in questions) for l in LANGS}
    print(f"wrote {out}: {len(questions)} questions {per}; {skipped} untranslated headings skipped")


if __name__ == "__main__":
    main()
