#!/usr/bin/env bash
# Issue 20's run on a lent GPU machine: one script, everything under $OUT.
#
# Here (a machine with Rust), prepare what the GPU machine cannot build:
#   scripts/gpu-check.sh pack          # CUDA build + model -> target/gpu-carry/{1,2} (each < 64 MiB)
# There (the `device` tool's `run`, repository root), two calls in a row (a machine stays warm
# 30 s between calls, and files outside $OUT survive that long):
#   1. carry ["target/gpu-carry/1"]:  scripts/gpu-check.sh stash
#   2. carry ["target/gpu-carry/2"]:  scripts/gpu-check.sh run
# Rehearsal on a machine without a GPU (the same steps on the CPU build, GPU parts skipped):
#   scripts/gpu-check.sh rehearse
#
# `run` does, in order, each step's output in $OUT (a failed step is recorded and the next
# still runs; the exit status says whether any failed):
#   env.txt, nvidia-smi.txt        the card, the driver, torch's view of it
#   the CUDA libraries             found in the image's Python packages (libcublas, libcublasLt,
#                                  libcudart, libcurand, libnvrtc) and put on LD_LIBRARY_PATH
#   parity.json                    semclust cuda f32 / f16 / q4 against semclust cpu f32 on the
#                                  98 sample paragraphs (f32 >= 0.9999, f16 >= 0.999)
#   load.json                      `semclust serve --device cuda` under 32 concurrent clients on
#                                  /v1/embeddings: every answer 200 and within f16's bar of cpu f32
#   bench/                         `semclust bench --devices cpu,cuda --precisions q4,f32,f16
#                                  --batch-sizes 1,8,32,64,256`
#   st-bench-cuda.json             sentence-transformers on the same card, same weights (the
#                                  carried GGUF dequantised there), f16 and f32, same batch sizes
#   parity-st.json                 sentence-transformers' vectors against semclust cpu f32
#   summary.md                     all of it in one page
set -uo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-}"
PY="${PYTHON:-python3}" # the GPU machine's python3 has torch and sentence-transformers
CARRY_PARTS=target/gpu-carry
STASH=/tmp/semclust-gpu-stash
SPLIT_AT=50000000 # bytes of the GGUF in the first call: 50 MB + the working tree < 64 MiB
TEXTS=tests/fixtures/lemonde-paragraphs.txt
BATCHES=1,8,32,64,256

# xz where the machine has it, else Python's lzma module.
unxz() {
    if command -v xz >/dev/null 2>&1; then
        xz -dc "$1"
    else
        python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
    fi
}

die() {
    echo "gpu-check: $*" >&2
    exit 1
}

pack() {
    local model="${SEMCLUST_CACHE:-$HOME/.cache/semclust}/models/multilingual-e5-small"
    [ -f "$model/model-q4_0.gguf" ] || die "no $model/model-q4_0.gguf: run \`semclust models pull\` first"
    if [ -z "${GPU_BIN:-}" ]; then
        # shellcheck source=cuda-toolkit.sh
        source scripts/cuda-toolkit.sh
        CARGO_TARGET_DIR=target/cuda cargo build --release --features cuda || die "CUDA build failed"
        GPU_BIN=target/cuda/release/semclust
    fi
    rm -rf "$CARRY_PARTS" && mkdir -p "$CARRY_PARTS/1" "$CARRY_PARTS/2"
    head -c "$SPLIT_AT" "$model/model-q4_0.gguf" >"$CARRY_PARTS/1/gguf.part1"
    tail -c +"$((SPLIT_AT + 1))" "$model/model-q4_0.gguf" >"$CARRY_PARTS/2/gguf.part2"
    xz -T2 -6 -c "$GPU_BIN" >"$CARRY_PARTS/2/semclust.xz"
    xz -T2 -9 -c "$model/tokenizer.json" >"$CARRY_PARTS/2/tokenizer.json.xz"
    cp "$model/config.json" "$CARRY_PARTS/2/config.json"
    # The binary needs libcurand.so.10 to start (candle seeds a generator when it opens a CUDA
    # device) but never draws from it: the only curand functions it imports are these four. A
    # machine whose Python packages lack curand (torch no longer pulls it in) gets this stub,
    # 16 KB instead of the real library's 130 MB.
    cat >"$CARRY_PARTS/2/curand-stub.c" <<'STUB'
/* libcurand.so.10 stand-in for semclust's CUDA build: the four functions it imports. */
static int generator;
int curandCreateGenerator(void **g, int kind) { (void)kind; *g = &generator; return 0; }
int curandDestroyGenerator(void *g) { (void)g; return 0; }
int curandSetPseudoRandomGeneratorSeed(void *g, unsigned long long seed) { (void)g; (void)seed; return 0; }
int curandSetStream(void *g, void *stream) { (void)g; (void)stream; return 0; }
STUB
    local imported
    imported=$(nm -D --undefined-only "$GPU_BIN" | grep -c 'curand' || true)
    [ "$imported" -le 4 ] || die "the binary imports $imported curand functions; the stub has 4"
    # The binary asks for the symbols at version node libcurand.so.10, as the real library has them.
    echo 'libcurand.so.10 { global: curand*; local: *; };' >"$CARRY_PARTS/2/curand-stub.map"
    gcc -shared -fPIC -O1 -Wl,-soname,libcurand.so.10 -Wl,--version-script="$CARRY_PARTS/2/curand-stub.map" \
        -o "$CARRY_PARTS/2/libcurand.so.10" "$CARRY_PARTS/2/curand-stub.c"
    (cd "$model" && sha256sum model-q4_0.gguf tokenizer.json) >"$CARRY_PARTS/2/SHA256SUMS"
    sha256sum "$GPU_BIN" | sed 's|  .*|  semclust|' >>"$CARRY_PARTS/2/SHA256SUMS"
    local tree
    tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
    for p in 1 2; do
        local size
        size=$(du -cb "$CARRY_PARTS/$p" | tail -1 | cut -f1)
        echo "call $p carries $(((size + tree) / 1048576)) MiB (parts $((size / 1048576)) MiB + working tree $((tree / 1048576)) MiB)"
        [ $((size + tree)) -lt $((64 * 1048576)) ] || die "call $p would carry over 64 MiB"
    done
}

stash() {
    mkdir -p "$STASH"
    cp "$CARRY_PARTS/1/"* "$STASH/" || die "nothing carried in $CARRY_PARTS/1"
    ls -l "$STASH"
}

# Put the binary and the model together in target/gpu-run from the two calls' parts.
assemble() {
    local run=target/gpu-run
    rm -rf "$run" && mkdir -p "$run/model"
    [ -f "$STASH/gguf.part1" ] || die "$STASH/gguf.part1 is gone (the machine was not warm): run 'stash' and 'run' again, back to back"
    cat "$STASH/gguf.part1" "$CARRY_PARTS/2/gguf.part2" >"$run/model/model-q4_0.gguf"
    unxz "$CARRY_PARTS/2/tokenizer.json.xz" >"$run/model/tokenizer.json"
    cp "$CARRY_PARTS/2/config.json" "$run/model/"
    unxz "$CARRY_PARTS/2/semclust.xz" >"$run/semclust" && chmod +x "$run/semclust"
    (cd "$run/model" && grep -v '  semclust$' "../../gpu-carry/2/SHA256SUMS" | sha256sum -c --quiet) ||
        die "model files damaged in transit"
    (cd "$run" && grep '  semclust$' "../gpu-carry/2/SHA256SUMS" | sha256sum -c --quiet) ||
        die "binary damaged in transit"
    BIN="$PWD/$run/semclust"
    MODEL="$PWD/$run/model"
}

# The directories of the CUDA libraries the binary opens, from the Python packages.
find_cuda_libs() {
    local dirs
    dirs=$("$PY" - <<'EOF'
import glob, os, site, sys
# Installed packages only (sys.path would add the working directory, and this repository's own
# carried stub with it).
roots = [r for r in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(r)]
found = {}
for root in roots:
    for lib in ("libcublas.so", "libcublasLt.so", "libcudart.so", "libcurand.so", "libnvrtc.so"):
        for p in glob.glob(os.path.join(root, "**", lib + "*"), recursive=True):
            found.setdefault(lib, os.path.dirname(p))
print(":".join(sorted(set(found.values()))))
for lib in ("libcublas.so", "libcublasLt.so", "libcudart.so", "libcurand.so", "libnvrtc.so"):
    print(f"{lib}: {found.get(lib, 'NOT FOUND')}", file=sys.stderr)
EOF
    )
    if ! "$PY" -c 'import ctypes; ctypes.CDLL("libcurand.so.10")' 2>/dev/null &&
        ! ls ${dirs//:/ } 2>/dev/null | grep -q '^libcurand.so.10$'; then
        mkdir -p target/gpu-run/curand-stub
        cp "$CARRY_PARTS/2/libcurand.so.10" target/gpu-run/curand-stub/
        dirs="${dirs:+$dirs:}$PWD/target/gpu-run/curand-stub"
        echo "libcurand.so.10: not on this machine; using the carried stub (four functions, never drawn from)" >&2
    fi
    export LD_LIBRARY_PATH="${dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

FAILED=()
step() {
    local name="$1"
    shift
    local t0=$SECONDS
    echo "== $name"
    if "$@"; then
        echo "== $name: ok ($((SECONDS - t0)) s)"
    else
        echo "== $name: FAILED ($((SECONDS - t0)) s)"
        FAILED+=("$name")
    fi
}

environment() {
    {
        date -u
        uname -a
        nproc
        "$PY" -c 'import torch, transformers, sentence_transformers as s; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""); print("transformers", transformers.__version__, "sentence-transformers", s.__version__)'
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
        "$BIN" --version
    } >"$OUT/env.txt" 2>&1
    cat "$OUT/env.txt"
    if [ "$GPU" = 1 ]; then
        nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 && cat "$OUT/nvidia-smi.txt"
    fi
}

embed_parity() {
    local ok=0
    "$BIN" embed --device cpu --precision f32 --model-dir "$MODEL" --no-hub <"$TEXTS" >"$OUT/vec-cpu-f32.jsonl" || return 1
    local others=()
    for p in f32 f16 q4; do
        if "$BIN" embed --device "$DEV" --precision "$p" --model-dir "$MODEL" --no-hub <"$TEXTS" >"$OUT/vec-$DEV-$p.jsonl" 2>"$OUT/embed-$DEV-$p.log"; then
            others+=("$OUT/vec-$DEV-$p.jsonl")
        else
            echo "embed $DEV $p failed: $(tail -1 "$OUT/embed-$DEV-$p.log")"
            ok=1
        fi
    done
    [ ${#others[@]} -gt 0 ] || return 1
    "$PY" scripts/gpu_check.py parity "$OUT/vec-cpu-f32.jsonl" "${others[@]}" --out "$OUT/parity.json" || ok=1
    return $ok
}

serve_load() {
    local port=18080
    "$BIN" serve --device "$DEV" --model-dir "$MODEL" --no-hub --index "$OUT/no-index" --addr "127.0.0.1:$port" >"$OUT/serve.log" 2>&1 &
    local pid=$!
    local up=1
    for _ in $(seq 1 120); do
        if "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
            up=0
            break
        fi
        sleep 0.5
    done
    local rc=1
    if [ $up = 0 ]; then
        "$PY" scripts/gpu_check.py load "http://127.0.0.1:$port" "$TEXTS" --clients 32 --requests "$LOAD_REQUESTS" \
            --ref "$OUT/vec-cpu-f32.jsonl" --out "$OUT/load.json" && rc=0
    else
        echo "serve did not come up: $(tail -3 "$OUT/serve.log")"
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return $rc
}

semclust_bench() {
    "$BIN" bench --devices "$DEVICES" --precisions q4,f32,f16 --batch-sizes "$BATCHES" \
        --model-dir "$MODEL" --no-hub --input "$TEXTS" --runs "$RUNS" --out "$OUT/bench"
}

st_bench() {
    "$PY" scripts/gpu_check.py st-folder "$MODEL" /tmp/semclust-gpu-st || return 1
    "$PY" scripts/gpu_check.py st-bench /tmp/semclust-gpu-st/st "$TEXTS" "$OUT/st-bench-$DEV.json" \
        --device "$DEV" --dtypes "$ST_DTYPES" --batch-sizes "$BATCHES" --runs "$RUNS" \
        --vectors-prefix "$OUT/vec-st-$DEV" || return 1
    local others=()
    for d in ${ST_DTYPES//,/ }; do others+=("$OUT/vec-st-$DEV-$d.jsonl"); done
    "$PY" scripts/gpu_check.py parity "$OUT/vec-cpu-f32.jsonl" "${others[@]}" --out "$OUT/parity-st.json"
}

run_all() {
    [ -n "${OUT:-}" ] || die "OUT is not set (the device tool sets it)"
    mkdir -p "$OUT"
    step "environment" environment
    step "embedding parity ($DEV vs cpu f32)" embed_parity
    step "serve on $DEV under load" serve_load
    step "semclust bench" semclust_bench
    step "sentence-transformers on $DEV" st_bench
    "$PY" scripts/gpu_check.py summary "$OUT"
    rm -f "$OUT"/vec-*.jsonl.tmp
    if [ ${#FAILED[@]} -gt 0 ]; then
        echo "gpu-check: failed steps: ${FAILED[*]}"
        return 1
    fi
    echo "gpu-check: every step passed"
}

case "$MODE" in
pack) pack ;;
stash) stash ;;
run)
    assemble
    find_cuda_libs
    GPU=1 DEV=cuda DEVICES=cpu,cuda RUNS=3 ST_DTYPES=f16,f32 LOAD_REQUESTS=400
    export GPU DEV
    run_all
    ;;
rehearse)
    # The same steps with the CPU build standing in for the CUDA one and the CPU for the GPU,
    # through the same carry parts, stash and assembly; fewer runs, as 2 cores are slow.
    OUT="${OUT:-target/gpu-rehearsal}"
    [ -x "$HOME/venv-ref/bin/python" ] && PY="${PYTHON:-$HOME/venv-ref/bin/python}"
    rm -rf "$OUT" "$STASH"
    GPU_BIN="${GPU_BIN:-target/release/semclust}" pack || exit 1
    stash >/dev/null
    assemble
    find_cuda_libs
    GPU=0 DEV=cpu DEVICES=cpu RUNS=1 ST_DTYPES=f32 LOAD_REQUESTS=40 BATCHES=1,32
    export GPU DEV
    run_all
    ;;
*)
    sed -n '2,30p' "$0"
    exit 2
    ;;
esac
