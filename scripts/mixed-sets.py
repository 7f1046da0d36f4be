#!/usr/bin/env python3
"""Mixed-language test sets from Debian Reference (issue 30, item 4), all real text.

    python3 scripts/mixed-sets.py [DEBREF_DIR] [OUT_DIR] [--seed N]
    (defaults: target/collections/debref, target/collections/mixed, seed 7)
    python3 scripts/mixed-sets.py --source handbook [HANDBOOK_DIR] [OUT_DIR]
    (defaults: target/collections/handbook, target/collections/mixed-handbook)

The second source, The Debian Administrator's Handbook (`scripts/real-collections.sh build
DIR handbook`), is another manual by other authors and translators: there each section page
(`sect.*.html`) is a document and its topic is its chapter. The 2022 edition left some
paragraphs in English in each translation: a paragraph left in English in any language is
removed from every language's version, and a page whose versions do not line up paragraph by
paragraph, or lose more than half their paragraphs, is left out.

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
  pairs/       every section twice, in German (`KEY.de`) and in English (`KEY.en`): related
               passages of a German passage should find its English version first, and the
               top 10 should hold both languages;
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
# The two languages of the pairs set.
PAIR = ["de", "en"]
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


PARA = re.compile(r'<div class="para">(.*?)</div>', re.S)
HANDBOOK_H2 = re.compile(r'<h2 class="title">(.*?)</h2>', re.S)


def handbook_page(page: pathlib.Path) -> list:
    """The one section of a Handbook page: (heading, html between the two navigation bars)."""
    doc = page.read_text(encoding="utf-8")
    start = doc.find('<div class="section">')
    end = doc.find('<ul class="docnav">', start)
    if start < 0 or end < 0:
        return []
    body = doc[start:end]
    m = HANDBOOK_H2.search(body)
    return [(NUMBER.sub("", text_of(m[1])) if m else page.stem, body)]


def translated_only(per_lang: dict) -> dict:
    """The pages with every paragraph (`<div class="para">`) that some language left in
    English removed from all of them, so that each version says the same in its own language;
    None when the versions' paragraphs do not line up, or fewer than half are left."""
    paras = {l: PARA.findall(body) for l, (_, body) in per_lang.items()}
    if len({len(p) for p in paras.values()}) != 1:
        return None
    en = [text_of(p) for p in paras["en"]]
    keep = [
        i for i in range(len(en))
        if all(text_of(paras[l][i]) != en[i] for l in paras if l != "en")
    ]
    if len(keep) < max(2, len(en) / 2):
        return None
    out = {}
    for l, (heading, body) in per_lang.items():
        drop = [paras[l][i] for i in range(len(en)) if i not in keep]
        for para in drop:
            body = body.replace(f'<div class="para">{para}</div>', "", 1)
        out[l] = [(heading, body)]
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
    handbook = "--source" in sys.argv and sys.argv[sys.argv.index("--source") + 1] == "handbook"
    args = [a for a in args if a not in ("handbook", "debref")]
    default_root, default_out = (
        ("target/collections/handbook", "target/collections/mixed-handbook")
        if handbook
        else ("target/collections/debref", "target/collections/mixed")
    )
    root = pathlib.Path(args[0] if args else default_root)
    out = pathlib.Path(args[1] if len(args) > 1 else default_out)
    rng = random.Random(seed)

    chapters = {}
    if handbook:
        # One document per section page, grouped by the chapter labels.tsv names; a page
        # counts only when every language has it, translated.
        chapter_of = {}
        for line in (root / "labels.tsv").read_text(encoding="utf-8").splitlines():
            key, chapter = line.split("\t")
            chapter_of[key.split("/", 1)[1]] = chapter
        skipped = 0
        for page in sorted((root / "en").glob("*.html")):
            per_lang = {l: handbook_page(root / l / page.name) for l in LANGS}
            if any(len(s) != 1 for s in per_lang.values()):
                skipped += 1
                continue
            per_lang = translated_only({l: s[0] for l, s in per_lang.items()})
            if per_lang is None:
                skipped += 1
                continue
            ch = chapters.setdefault(chapter_of[page.stem], {l: [] for l in LANGS})
            for l in LANGS:
                ch[l] += per_lang[l]
        print(f"left out {skipped} section pages whose translations do not line up", file=sys.stderr)
    # Debian Reference: sections per chapter and language; a chapter counts only where every
    # language has the same number of sections (the translations follow the English source).
    for page in [] if handbook else sorted((root / "en").glob("*.html")):
        per_lang = {l: sections(root / l / page.name) for l in LANGS}
        counts = {len(s) for s in per_lang.values()}
        if len(counts) != 1 or counts == {0}:
            print(f"skipped {page.stem}: section counts differ {sorted(counts)}", file=sys.stderr)
            continue
        chapters[page.stem] = per_lang

    sets = {name: out / name for name in ("balanced", "confounded", "english", "pairs")}
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
            key = f"{chapter}-{s + 1:02}" if handbook else f"{chapter}-{s + 1}"
            if not deck:
                deck = LANGS[:]
                rng.shuffle(deck)
            lang = deck.pop()
            for name, l in (("balanced", lang), ("confounded", confounded_lang), ("english", "en")):
                heading, body = per_lang[l][s]
                write(sets[name], key, l, heading, body)
                labels[name].append(f"{key}\t{chapter}\t{l}")
            for l in PAIR:
                heading, body = per_lang[l][s]
                write(sets["pairs"], f"{key}.{l}", l, heading, body)
                labels["pairs"].append(f"{key}.{l}\t{chapter}\t{l}")
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
                "name": f"{'handbook' if handbook else 'debref'}-mixed-cross-lingual",
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
