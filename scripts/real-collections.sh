#!/usr/bin/env bash
# Real text for semclust's tests and benchmarks, rebuilt from the Debian packages that ship it
# (never text written for semclust). Needs apt-get (with package lists), dpkg-deb and python3.
#
#   scripts/real-collections.sh fixtures   # the small slices committed under tests/fixtures/real
#
# Debian Reference (package debian-reference-LANG, GPL-2+, Osamu Aoki and translators): the
# same manual in several languages, as DocBook HTML pages (navigation header and footer, tables
# of contents, admonitions laid out as tables) and as a plain-text rendering made by upstream
# from the same source. The tests read the HTML pages and check the passages semclust finds
# against the paragraphs of upstream's plain text.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBREF_VERSION="${DEBREF_VERSION:-2.100}"

fetch_debref() { # LANG... -> extracted under $WORK/x
    (cd "$WORK" && for l in "$@"; do
        apt-get download "debian-reference-$l=$DEBREF_VERSION" >/dev/null
    done)
    for deb in "$WORK"/*.deb; do dpkg-deb -x "$deb" "$WORK/x"; done
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
}

case "${1:-}" in
fixtures) fixtures ;;
*)
    echo "usage: $0 fixtures" >&2
    exit 2
    ;;
esac
