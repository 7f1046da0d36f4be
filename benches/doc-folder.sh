#!/usr/bin/env bash
# A real documents folder, every format (issue 31): a subset of this machine's /usr/share/doc
# (HTML, Markdown, PDF, reStructuredText plain and gzipped, gzipped changelogs and text) and a
# few manual pages, indexed by the release binary. Prints the dry run's estimate, the run's
# summary with its wall time and peak RSS (GNU time), and a second run's summary (it must embed
# nothing). Needs a Debian-like /usr/share/doc holding the packages named below.
#
#   cargo build --release && benches/doc-folder.sh [INDEX_DIR]
set -euo pipefail
bin=${SEMCLUST_BIN:-target/release/semclust}
ix=${1:-target/tmp/doc-folder-index}
rm -rf "$ix"
sel=(--include 'libtasn1-doc/**' --include 'shared-mime-info/**' --include 'bzip2/**'
     --include 'libjansson4/**' --include 'yq/**' --include 'fontconfig/*.pdf.gz'
     --include 'nodejs/api/[a-c]*' --include 'coreutils/**' --exclude 'all.*'
     --include 'ca*.1.gz')
roots=(/usr/share/doc /usr/share/man/man1)
echo "== dry run"
"$bin" index --dry-run -q --index "$ix" "${roots[@]}" "${sel[@]}" 2>/dev/null
echo "== run"
/usr/bin/time -f 'wall %e s, peak RSS %M KB' "$bin" index -q --index "$ix" "${roots[@]}" "${sel[@]}" 2> >(grep -v '^semclust: warning' >&2)
echo "== second run"
"$bin" index -q --index "$ix" "${roots[@]}" "${sel[@]}" 2>/dev/null
"$bin" docs stats --index "$ix"
