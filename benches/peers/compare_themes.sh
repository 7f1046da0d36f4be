#!/usr/bin/env bash
# Theme quality and k-means speed of semclust beside sentence-transformers + scikit-learn, one
# after the other on this machine.
#
#   benches/peers/compare_themes.sh PYTHON E5_ST_DIR [SEEDS]
#
# PYTHON: a Python with torch, sentence-transformers and scikit-learn (e.g. ~/venv-ref/bin/python).
# E5_ST_DIR: the folder written by `scripts/make_references.py --export-e5 DIR`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:?python with sentence-transformers and scikit-learn}
E5DIR=${2:?sentence-transformers folder of the dequantised e5}
SEEDS=${3:-10}
OUT=target/themes-bench
mkdir -p "$OUT"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cargo build --release --quiet
BIN=target/release/semclust
"$BIN" index tests/fixtures/lemonde-ia-2025.md --index "$OUT/index" -q
files=()
for s in $(seq 0 $((SEEDS - 1))); do
    "$BIN" themes --index "$OUT/index" --k 5 --seed "$s" --json -q > "$OUT/themes-seed$s.json"
    files+=("$OUT/themes-seed$s.json")
done
"$PY" benches/peers/themes_quality.py --model-dir "$E5DIR" "${files[@]}"

echo
echo "k-means, 100,000 × 384, k = 20, 30 Lloyd iterations, one k-means++ start:"
cargo bench --bench kmeans_scale --quiet -- --n 100000 --k 20 --iterations 30 --out target/kmeans-bench
"$PY" benches/peers/kmeans_peer.py --dir target/kmeans-bench --n 100000 --k 20 --iterations 30
