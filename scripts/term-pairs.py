#!/usr/bin/env python3
"""Word translations from the FreeDict dictionaries that Debian ships (issue 30: terms that
translate each other count as one), restricted to the words of a real English text.

    python3 scripts/term-pairs.py ENGLISH_DIR OUT.tsv [--langs de,es,fr,it,pt]

Downloads dict-freedict-eng-{deu,spa,fra,ita,por} with `apt-get download` (the package
lists must be there), reads each dictionary through its dictd index, and keeps an English
headword of one lower-case word when it occurs at least 3 times in the text of the HTML pages
under ENGLISH_DIR (e.g. target/collections/debref/en, target/collections/handbook/en): the
vocabulary of that manual, so that the pairs are the terms its themes are labelled with. Of
each headword, the translations of one word are kept (grammatical tags like `<fem>` dropped).

OUT.tsv: language, TAB, English word, TAB, translation; one line per pair. Beside it,
OUT.COPYRIGHT: the dictionaries' copyright files.
"""
import collections
import gzip
import html
import pathlib
import re
import subprocess
import sys
import tempfile

DICTS = {"de": "deu", "es": "spa", "fr": "fra", "it": "ita", "pt": "por"}
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
WORD = re.compile(r"^[^\W\d_]+$")
MIN_COUNT = 3


def b64(s: str) -> int:
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def vocabulary(folder: pathlib.Path) -> collections.Counter:
    words = collections.Counter()
    for page in sorted(folder.rglob("*.html")):
        text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
        words.update(w for w in re.findall(r"[^\W\d_]+", text))
    return words


def translations(entry: str) -> list:
    """One-word translations of a dictd entry (its first line is the headword; a line may hold
    several, comma-separated)."""
    out = []
    for line in entry.splitlines()[1:]:
        if not line or line[0].isspace():
            continue  # notes, synonyms, examples
        line = re.sub(r"^\d+\.\s*", "", line)
        line = re.sub(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)|\{[^}]*\}", "", line)
        for item in re.split(r"[,;]", line):
            item = item.strip()
            if WORD.match(item) and item not in out:
                out.append(item)
    return out


def read_dict(folder: pathlib.Path, code: str) -> dict:
    base = folder / "usr/share/dictd" / f"freedict-eng-{code}"
    text = gzip.open(f"{base}.dict.dz").read()
    out = {}
    for line in open(f"{base}.index", encoding="utf-8"):
        head, off, length = line.rstrip("\n").split("\t")
        if not WORD.match(head) or not head.islower():
            continue
        entry = text[b64(off) : b64(off) + b64(length)].decode("utf-8", "replace")
        out.setdefault(head, []).extend(t for t in translations(entry) if t.lower() != head)
    return out


def main() -> None:
    argv = sys.argv[1:]
    langs = ["de", "es", "fr", "it", "pt"]
    if "--langs" in argv:
        i = argv.index("--langs")
        langs = argv[i + 1].split(",")
        del argv[i : i + 2]
    if len(argv) != 2:
        sys.exit(__doc__)
    english, out = pathlib.Path(argv[0]), pathlib.Path(argv[1])
    vocab = vocabulary(english)
    if not vocab:
        sys.exit(f"{english}: no HTML pages with English text (build them with "
                 "scripts/real-collections.sh build)")
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        pkgs = [f"dict-freedict-eng-{DICTS[l]}" for l in langs]
        try:
            subprocess.run(["apt-get", "download", *pkgs], cwd=work, check=True,
                           capture_output=True)
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            sys.exit(f"apt-get download {' '.join(pkgs)} failed ({e}); run apt-get update first")
        for deb in work.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True)
        notice = [f"{out.name}: word pairs from the FreeDict dictionaries as Debian ships them "
                  f"({', '.join(pkgs)}), selected by scripts/term-pairs.py. Their copyright "
                  "files follow."]
        for pkg in pkgs:
            notice.append(f"\n=== {pkg} ===")
            notice.append((work / "x/usr/share/doc" / pkg / "copyright").read_text(encoding="utf-8"))
        lines = []
        for lang in langs:
            d = read_dict(work / "x", DICTS[lang])
            kept = 0
            for head in sorted(d):
                if vocab[head] < MIN_COUNT:
                    continue
                for t in d[head]:
                    lines.append(f"{lang}\t{head}\t{t}")
                    kept += 1
            print(f"{lang}: {kept} pairs", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".COPYRIGHT").write_text("\n".join(notice), encoding="utf-8")
    print(f"{out}: {len(lines)} pairs", file=sys.stderr)


if __name__ == "__main__":
    main()
