#!/usr/bin/env python3
"""Parallel text for semclust's language-neutral similarity (issue 30), all real translations.

    python3 scripts/parallel-calibration.py [LOCALE_DIR] [OUT]
    (defaults: /usr/share/locale, crates/semclust-core/assets/parallel-gettext.jsonl.gz)

Reads the gettext catalogues (`LC_MESSAGES/*.mo`) that a Debian system's packages install: the
messages of coreutils, apt, dpkg, glib, gtk, git, ... and their translations, made by the
packages' translation teams. Keeps the English messages (msgid) that read as sentences (5 to 60
words, few format directives), the N of them translated into the most languages, and writes one
JSON object per message: {"en": msgid, "de": ..., "fr": ..., ...} with ISO 639-1 keys, only the
languages semclust's detector knows and that have at least MIN_PER_LANG of the N messages.
The output is deterministic for a given set of installed catalogues.
"""
import collections
import gettext
import gzip
import hashlib
import json
import pathlib
import re
import sys

N = 400
MIN_PER_LANG = 150
# whatlang's languages as ISO 639-1 (crates/semclust-core/src/language.rs), the catalogue folders that stand for each.
FOLDERS = {
    "af": ["af"], "am": ["am"], "ar": ["ar"], "az": ["az"], "be": ["be"], "bg": ["bg"],
    "bn": ["bn", "bn_IN"], "ca": ["ca"], "cs": ["cs"], "cy": ["cy"], "da": ["da"], "de": ["de"],
    "el": ["el"], "eo": ["eo"], "es": ["es"], "et": ["et"], "fa": ["fa"], "fi": ["fi"],
    "fr": ["fr"], "gu": ["gu"], "he": ["he"], "hi": ["hi"], "hr": ["hr"], "hu": ["hu"],
    "hy": ["hy"], "id": ["id"], "it": ["it"], "ja": ["ja"], "ka": ["ka"], "km": ["km"],
    "kn": ["kn"], "ko": ["ko"], "lt": ["lt"], "lv": ["lv"], "mk": ["mk"], "ml": ["ml"],
    "mr": ["mr"], "my": ["my"], "ne": ["ne"], "nl": ["nl"], "no": ["nb", "no"], "or": ["or"],
    "pa": ["pa"], "pl": ["pl"], "pt": ["pt", "pt_BR"], "ro": ["ro"], "ru": ["ru"], "si": ["si"],
    "sk": ["sk"], "sl": ["sl"], "sr": ["sr"], "sv": ["sv"], "ta": ["ta"], "te": ["te"],
    "th": ["th"], "tl": ["tl"], "tr": ["tr"], "uk": ["uk"], "ur": ["ur"], "uz": ["uz"],
    "vi": ["vi"], "zh": ["zh_CN", "zh_TW"],
}
DIRECTIVE = re.compile(r"%[-+ #0-9.]*[a-zA-Z]|\{[^}]*\}|<[^>]+>")


def usable(msgid: str) -> str:
    s = " ".join(msgid.split())
    if "\x04" in msgid or not 30 <= len(s) <= 300 or not 5 <= len(s.split()) <= 60:
        return ""
    if len(DIRECTIVE.findall(s)) > 1 or sum(c.isalpha() for c in s) < 0.7 * len(s):
        return ""
    return s


def catalogue(folders: list) -> dict:
    out = {}
    for folder in folders:
        for mo in sorted(folder.glob("LC_MESSAGES/*.mo")):
            try:
                with open(mo, "rb") as f:
                    entries = gettext.GNUTranslations(f)._catalog
            except Exception as e:  # a broken catalogue is skipped, not fatal
                print(f"skipped {mo}: {e}", file=sys.stderr)
                continue
            for k, v in entries.items():
                if isinstance(k, tuple) or not isinstance(v, str):
                    continue
                s = usable(k)
                t = " ".join(v.split())
                if s and t and t != s:
                    out.setdefault(s, t)
    return out


def main() -> None:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/locale")
    out = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "crates/semclust-core/assets/parallel-gettext.jsonl.gz")
    cats = {}
    for lang, names in FOLDERS.items():
        c = catalogue([root / n for n in names if (root / n).is_dir()])
        if c:
            cats[lang] = c
    coverage = collections.Counter(s for c in cats.values() for s in c)
    key = lambda s: (-coverage[s], hashlib.sha1(s.encode()).hexdigest())
    chosen = sorted(coverage, key=key)[:N]
    langs = [l for l, c in cats.items() if sum(s in c for s in chosen) >= MIN_PER_LANG]
    rows = []
    for s in sorted(chosen, key=lambda s: hashlib.sha1(s.encode()).hexdigest()):
        row = {"en": s}
        row.update({l: cats[l][s] for l in langs if s in cats[l]})
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    with open(out, "wb") as f:
        f.write(gzip.compress(body.encode("utf-8"), compresslevel=9, mtime=0))
    per = {l: sum(l in r for r in rows) for l in langs}
    print(f"{out}: {len(rows)} messages, {len(langs)} languages: {per}")


if __name__ == "__main__":
    main()
