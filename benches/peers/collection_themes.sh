#!/usr/bin/env bash
# Themes on real collections: the k `--k auto` chooses and the NMI of the themes against the
# collection's labels, semclust beside scikit-learn's KMeans on the same stored vectors and the
# same k; and the labels semclust gives.
#
#   benches/peers/collection_themes.sh PYTHON [SEEDS]
#
# PYTHON: a Python with numpy and scikit-learn (e.g. ~/venv-sk/bin/python). The collections are
# built by scripts/real-collections.sh build (needs apt-get and its package lists). Each
# language of Debian Reference is indexed on its own (labels: the 14 chapters).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:?python with numpy and scikit-learn}
SEEDS=${2:-5}
OUT=target/collection-themes
mkdir -p "$OUT"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cargo build --release --quiet
BIN=target/release/semclust
[ -f target/collections/debref/labels.tsv ] || scripts/real-collections.sh build
for l in de es fr it pt en; do
    ix="$OUT/debref-$l"
    "$BIN" index "target/collections/debref/$l" --index "$ix" -q
    "$BIN" themes --index "$ix" --json -q >"$OUT/debref-$l-auto.json"
    k=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["facts"]["k"])' "$OUT/debref-$l-auto.json")
    files=()
    for s in $(seq 0 $((SEEDS - 1))); do
        "$BIN" themes --index "$ix" -k "$k" --seed "$s" --json -q >"$OUT/debref-$l-seed$s.json"
        files+=("$OUT/debref-$l-seed$s.json")
    done
    echo "== debref $l"
    "$PY" benches/peers/collection_nmi.py "$ix" target/collections/debref/labels.tsv \
        "${files[@]}" --prefix "$l/" --seeds "$SEEDS"
    "$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print("labels:", " | ".join(t["label"] for t in d["themes"]))' "$OUT/debref-$l-auto.json"
done
