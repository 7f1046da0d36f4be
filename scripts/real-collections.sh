#!/usr/bin/env bash
# Real text for semclust's tests and benchmarks, rebuilt from the Debian packages that ship it
# (never text written for semclust). Needs apt-get (with package lists), dpkg-deb and python3.
#
#   scripts/real-collections.sh fixtures      # the small slices committed under tests/fixtures/real
#   scripts/real-collections.sh build [DIR [NAME...]]  # the full collections (default: all three
#                                                      # in target/collections)
#
# Collections (each folder holds the pages in LANG/ subfolders and labels.tsv: document key, TAB,
# label, the document keys being the ones `semclust index DIR` gives):
#   debref    Debian Reference, its 14 pages (preface, chapters 1-12, appendix) in de, en, es,
#             fr, it and pt; label: the chapter (ch03…), the same in every language.
#   manpages  the translated manual pages of manpages-{de,es,fr,it,nl,pl,pt-br}, rendered to HTML
#             by mandoc (as man2html-style sites publish them); label: the manual section (1-8).
#   handbook  The Debian Administrator's Handbook (package debian-handbook, GPL-2+ or CC-BY-SA-3.0,
#             Raphaël Hertzog, Roland Mas and translators): one HTML page per section
#             (sect.*.html) in de, en, es, fr, it and pt (pt-BR); label: the chapter the page's
#             `<link rel="up">` names. A second manual, by other authors and translators, for
#             the mixed-language sets of scripts/mixed-sets.py.
#   changelogs  the Debian changelogs (changelog.Debian.gz, or changelog.gz of native packages)
#             of $CHANGELOG_PKGS, one JSONL file per package, one record per upload (its date,
#             version, distribution and urgency as fields), one passage per change (`*` item);
#             label: the package. Dated documents over three decades, for themes over time.
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
HANDBOOK_VERSION="${HANDBOOK_VERSION:-11.20220922}"
HANDBOOK_LANGS="de-DE en-US es-ES fr-FR it-IT pt-BR"
CHANGELOG_PKGS="${CHANGELOG_PKGS:-apt base-files base-passwd bash binutils-common coreutils
    debianutils dpkg gcc-12-base grep gzip init-system-helpers libacl1 libbz2-1.0 libgnutls30
    libusb-1.0-0 llvm-14-runtime make openssh-client python3.11-minimal sed tar udev
    x11-common}"

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

    # gzip's Debian changelog, 1996 to today: 78 dated uploads.
    local cl=tests/fixtures/real/changelogs
    rm -rf "$WORK/x" "$WORK"/*.deb "$cl"
    fetch gzip
    changelog_jsonl "$cl"
    rm "$cl/labels.tsv"
    cp "$WORK/x/usr/share/doc/gzip/copyright" "$cl/COPYRIGHT"

    # A documents folder's formats as /usr/share/doc and /usr/share/man hold them: a gzipped
    # manual page and Debian changelog (coreutils), a gzipped and a plain reStructuredText
    # README (yq, libjansson4), a manual page made by Asciidoctor (linux-perf's perf-iostat:
    # macro definitions and a bullet drawn once per conditional branch), with each package's
    # copyright file.
    local tree=tests/fixtures/real/doc-tree
    rm -rf "$WORK/x" "$WORK"/*.deb "$tree" && mkdir -p "$tree"
    fetch coreutils yq libjansson4 linux-perf
    cp "$WORK/x/usr/share/man/man1/cat.1.gz" "$tree/cat.1.gz"
    cp "$WORK/x/usr/share/man/man1/perf-iostat.1.gz" "$tree/perf-iostat.1.gz"
    cp "$WORK/x/usr/share/doc/coreutils/changelog.Debian.gz" "$tree/coreutils-changelog.Debian.gz"
    cp "$WORK/x/usr/share/doc/yq/README.rst.gz" "$tree/yq-README.rst.gz"
    cp "$WORK/x/usr/share/doc/libjansson4/README.rst" "$tree/jansson-README.rst"
    for p in coreutils yq libjansson4 linux-perf; do
        cp "$WORK/x/usr/share/doc/$p/copyright" "$tree/COPYRIGHT.$p"
    done
    echo "wrote $tree"
    # A real PDF as Debian ships it: fontconfig's user manual (pdfTeX, 15 pages, 133 KB
    # gzipped; the smallest PDF in this machine's /usr/share/doc).
    local pdf=tests/fixtures/real/pdf
    rm -rf "$WORK/x" "$WORK"/*.deb "$pdf" && mkdir -p "$pdf"
    fetch fontconfig
    cp "$WORK/x/usr/share/doc/fontconfig/fontconfig-user.pdf.gz" "$pdf/"
    cp "$WORK/x/usr/share/doc/fontconfig/copyright" "$pdf/COPYRIGHT.fontconfig"
    echo "wrote $pdf"
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

handbook() { # OUT
    local out="$1/handbook"
    rm -rf "$out" && mkdir -p "$out"
    fetch "debian-handbook=$HANDBOOK_VERSION"
    local src="$WORK/x/usr/share/doc/debian-handbook/html"
    : >"$out/labels.tsv"
    for l in $HANDBOOK_LANGS; do
        local dir="${l%%-*}"
        mkdir -p "$out/$dir"
        for f in "$src/$l"/sect.*.html; do
            local page up
            page=$(basename "$f" .html)
            cp "$f" "$out/$dir/$page.html"
            up=$(grep -o '<link rel="up" href="[^"]*"' "$f" | sed 's/.*href="\([^"]*\)\.html"/\1/')
            printf '%s/%s\t%s\n' "$dir" "$page" "$up" >>"$out/labels.tsv"
        done
    done
    cp "$WORK/x/usr/share/doc/debian-handbook/copyright" "$out/COPYRIGHT"
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

# The changelogs of the packages extracted under $WORK/x as JSONL, one file per package, under
# OUT; SINCE (a year) keeps the uploads from then on.
changelog_jsonl() { # OUT [SINCE]
    python3 - "$WORK/x/usr/share/doc" "$1" "${2:-0}" <<'PY'
import email.utils, gzip, json, pathlib, re, sys
doc, out, since = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
head = re.compile(r"^(\S+) \(([^)]+)\) ([^;]+);.*urgency=(\w+)")
trailer = re.compile(r"^ -- .*?>  (.+)$")
labels, uploads, changes = [], 0, 0
for pkg_dir in sorted(doc.iterdir()):
    for name in ("changelog.Debian.gz", "changelog.gz"):
        f = pkg_dir / name
        if f.exists() and not f.is_symlink():
            break
    else:
        continue
    records, entry = [], None
    for line in gzip.decompress(f.read_bytes()).decode("utf-8", "replace").splitlines():
        m = head.match(line)
        if m:
            entry = {"source": m[1], "version": m[2], "distribution": m[3].strip(),
                     "urgency": m[4], "items": []}
            continue
        if entry is None:
            continue
        t = trailer.match(line)
        if t:
            try:
                date = email.utils.parsedate_to_datetime(t[1].strip()).date()
            except (TypeError, ValueError):
                date = None
            if date and date.year >= since and entry["items"]:
                text = "\n\n".join(" ".join(i) for i in entry["items"])
                records.append({"id": entry["version"], "title": f"{entry['source']} {entry['version']}",
                                "text": text, "date": date.isoformat(), "package": pkg_dir.name,
                                "distribution": entry["distribution"], "urgency": entry["urgency"],
                                "lang": "en"})
            entry = None
            continue
        s = line.strip()
        if not s or (s.startswith("[") and s.endswith("]")):  # blank, or a `[ Name ]` heading
            continue
        if s.startswith("* "):
            entry["items"].append([s[2:]])
        elif entry["items"]:
            entry["items"][-1].append(s)
    seen, unique = set(), []
    # A version listed twice (a changelog merged from two branches; `1:7.6-2` and `7.6-2`
    # once ids keep only letters, digits and `-_.`): the first kept.
    for r in records:
        key = re.sub(r"[^\w.-]", "-", r["id"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    if unique:
        with open(out / f"{pkg_dir.name}.jsonl", "w", encoding="utf-8") as w:
            for r in unique:
                w.write(json.dumps(r, ensure_ascii=False) + "\n")
        labels.append(f"{pkg_dir.name}\t{pkg_dir.name}\n")
        uploads += len(unique)
        changes += sum(r["text"].count("\n\n") + 1 for r in unique)
(out / "labels.tsv").write_text("".join(labels), encoding="utf-8")
print(f"wrote {out}: {len(labels)} packages, {uploads} uploads, {changes} changes")
PY
}

changelogs() { # OUT
    rm -rf "$WORK/x" "$WORK"/*.deb
    # shellcheck disable=SC2086
    fetch $CHANGELOG_PKGS
    rm -rf "$1/changelogs"
    changelog_jsonl "$1/changelogs"
    cp "$WORK/x/usr/share/doc/dpkg/copyright" "$1/changelogs/COPYRIGHT.dpkg"
}

build() { # [DIR [COLLECTION...]]
    local dir="${1:-target/collections}"
    shift || true
    local names="${*:-debref manpages changelogs}"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    for c in $names; do
        rm -rf "$WORK/x" "$WORK"/*.deb
        "$c" "$dir"
    done
}

case "${1:-}" in
fixtures) fixtures ;;
build) shift && build "$@" ;;
*)
    echo "usage: $0 fixtures | build [DIR [debref|handbook|manpages|changelogs...]]" >&2
    exit 2
    ;;
esac
