#!/usr/bin/env bash
# Real text for semclust's tests and benchmarks, rebuilt from the Debian packages that ship it
# (never text written for semclust). Needs apt-get (with package lists), dpkg-deb and python3.
#
#   scripts/real-collections.sh fixtures      # the small slices committed under tests/fixtures/real
#   scripts/real-collections.sh build [DIR]   # the full collections (default target/collections)
#
# Collections (each folder holds the pages in LANG/ subfolders and labels.tsv: document key, TAB,
# label, the document keys being the ones `semclust index DIR` gives):
#   debref    Debian Reference, its 14 pages (preface, chapters 1-12, appendix) in de, en, es,
#             fr, it and pt; label: the chapter (ch03…), the same in every language.
#   manpages  the translated manual pages of manpages-{de,es,fr,it,nl,pl,pt-br}, rendered to HTML
#             by mandoc (as man2html-style sites publish them); label: the manual section (1-8).
#
# Debian Reference (package debian-reference-LANG, GPL-2+, Osamu Aoki and translators): the
# same manual in several languages, as DocBook HTML pages (navigation header and footer, tables
# of contents, admonitions laid out as tables) and as a plain-text rendering made by upstream
# from the same source. The tests read the HTML pages and check the passages semclust finds
# against the paragraphs of upstream's plain text.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBREF_VERSION="${DEBREF_VERSION:-2.100}"
DEBREF_LANGS="de en es fr it pt"
MAN_LANGS="de es fr it nl pl pt-br"

fetch() { # PACKAGE... -> extracted under $WORK/x
    (cd "$WORK" && apt-get download "$@" >/dev/null 2>&1) || {
        echo "apt-get download $* failed (are the package lists there? apt-get update)" >&2
        exit 1
    }
    for deb in "$WORK"/*.deb; do dpkg-deb -x "$deb" "$WORK/x"; done
}

fetch_debref() { # LANG...
    local pkgs=()
    for l in "$@"; do pkgs+=("debian-reference-$l=$DEBREF_VERSION"); done
    fetch "${pkgs[@]}"
}

# The preface of upstream's plain text: from its heading (the second occurrence; the first is
# in the table of contents) to the heading of chapter 1.
preface_text() { # LANG TITLE CHAPTER1
    zcat "$WORK/x/usr/share/debian-reference/debian-reference.$1.txt.gz" | python3 -c '
import sys
title, ch1 = sys.argv[1], sys.argv[2]
lines = sys.stdin.read().split("\n")
starts = [i for i, l in enumerate(lines) if l == title]
end = next(i for i, l in enumerate(lines) if l.startswith(ch1) and i > starts[1])
sys.stdout.write("\n".join(lines[starts[1]:end]).rstrip() + "\n")
' "$2" "$3"
}

fixtures() {
    local out=tests/fixtures/real/debian-reference
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    fetch_debref de es
    mkdir -p "$out"
    for l in de es; do
        cp "$WORK/x/usr/share/debian-reference/pr01.$l.html" "$out/"
    done
    preface_text de "Vorwort" "Kapitel 1." >"$out/pr01.de.txt"
    preface_text es "Prefacio" "Capítulo 1." >"$out/pr01.es.txt"
    cp "$WORK/x/usr/share/doc/debian-reference-de/copyright" "$out/COPYRIGHT"
    echo "wrote $out (debian-reference $DEBREF_VERSION)"

    # A German and Spanish slice of the manual pages: the first 20 pages of section 1 (by name)
    # that both languages have, each between 3 and 12 KB once rendered.
    local man=tests/fixtures/real/manpages
    MAN_LANGS="de es" manpages "$WORK/man"
    rm -rf "$man" && mkdir -p "$man/de" "$man/es"
    python3 - "$WORK/man/manpages" "$man" <<'PY'
import pathlib, shutil, sys
src, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
fits = lambda p: p.exists() and 3000 <= p.stat().st_size <= 12000
names = sorted(p.name for p in (src / "de").glob("*.1.html") if p.name[0].isalpha())
both = [n for n in names if fits(src / "de" / n) and fits(src / "es" / n)][:20]
for n in both:
    for lang in ("de", "es"):
        shutil.copy(src / lang / n, dest / lang / n)
print(f"wrote {dest}: {len(both)} pages in de and es")
PY
    cp "$WORK/man/manpages/COPYRIGHT" "$man/COPYRIGHT"
}

debref() { # OUT
    local out="$1/debref"
    rm -rf "$out" && mkdir -p "$out"
    # shellcheck disable=SC2086
    fetch_debref $DEBREF_LANGS
    : >"$out/labels.tsv"
    for l in $DEBREF_LANGS; do
        mkdir -p "$out/$l"
        for f in "$WORK"/x/usr/share/debian-reference/{pr01,ch[0-9][0-9],apa}."$l".html; do
            local page
            page=$(basename "$f" ".$l.html")
            cp "$f" "$out/$l/$page.html"
            printf '%s/%s\t%s\n' "$l" "$page" "$page" >>"$out/labels.tsv"
        done
    done
    cp "$WORK/x/usr/share/doc/debian-reference-de/copyright" "$out/COPYRIGHT"
    echo "wrote $out: $(wc -l <"$out/labels.tsv") pages"
}

manpages() { # OUT
    local out="$1/manpages"
    rm -rf "$out" && mkdir -p "$out"
    local pkgs=(mandoc)
    for l in $MAN_LANGS; do pkgs+=("manpages-$l"); done
    rm -rf "$WORK/x"
    fetch "${pkgs[@]}"
    # One page per manual page; mandoc writes <title>NAME(SECTION)</title> and its sections as
    # <h1>; the page's language goes on <html lang>.
    # shellcheck disable=SC2086
    python3 - "$WORK/x" "$out" $MAN_LANGS <<'PY'
import gzip, pathlib, subprocess, sys
x, out, langs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
mandoc = str(x / "usr/bin/mandoc")
labels = []
for lang in langs:
    src = x / "usr/share/man" / lang.replace("-br", "_BR")
    for page in sorted(src.glob("man[1-8]/*.gz")):
        name = page.name[: -len(".gz")]
        roff = gzip.decompress(page.read_bytes())
        if roff.startswith(b".so "):  # a link to another page
            continue
        r = subprocess.run([mandoc, "-T", "html"], input=roff, capture_output=True)
        if r.returncode > 2 or not r.stdout:  # 2: warnings only
            continue
        html = r.stdout.decode("utf-8", "replace").replace("<html>", f'<html lang="{lang}">', 1)
        dest = out / lang / f"{name}.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(html, encoding="utf-8")
        labels.append(f"{lang}/{name}\t{page.parent.name[3:]}\n")
(out / "labels.tsv").write_text("".join(labels), encoding="utf-8")
print(f"wrote {out}: {len(labels)} pages")
PY
    cp "$WORK/x/usr/share/doc/manpages-de/copyright" "$out/COPYRIGHT"
}

build() { # [DIR]
    local dir="${1:-target/collections}"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    debref "$dir"
    rm -rf "$WORK/x" "$WORK"/*.deb
    manpages "$dir"
}

case "${1:-}" in
fixtures) fixtures ;;
build) build "${2:-}" ;;
*)
    echo "usage: $0 fixtures | build [DIR]" >&2
    exit 2
    ;;
esac
