#!/usr/bin/env bash
# semclust's exact and HNSW search beside numpy, faiss and hnswlib on the same synthetic data,
# one after the other on this machine.
#   benches/peers/compare_search.sh PYTHON [SIZES]     e.g. ~/venv-ref/bin/python 100000,1000000
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:?python of a venv with numpy, faiss-cpu, hnswlib}
SIZES=${2:-100000}
OUT=target/search-bench
uptime
cargo bench --bench search_scale -- --sizes "$SIZES" --out "$OUT"
for n in ${SIZES//,/ }; do
    "$PY" benches/peers/search_peers.py --dir "$OUT" --n "$n" --build-threads "$(nproc)"
done
