#!/usr/bin/env bash
# Source this (from the repo root) to build semclust with `--features cuda` on a machine with no
# CUDA toolkit and no GPU, from the CUDA 13.0 pieces published as Python wheels:
#
#   source scripts/cuda-toolkit.sh
#   CARGO_TARGET_DIR=target/cuda cargo build --release --features cuda
#
# Sets CUDA_HOME, PATH (nvcc), CUDA_COMPUTE_CAP (default 90: H100/H200, compiled as sm_90a; set
# it first for another GPU, e.g. 89 for an L4/RTX 40xx, 80 for an A100) and
# CUDA_RUN_LD_LIBRARY_PATH (to run the CUDA build here, where `--device cuda` then fails cleanly).
# Idempotent: the download (~650 MB) and install (~1.2 GB, in SEMCLUST_CUDA_TK, default
# ~/.cache/semclust-cuda) run only when the stamp for these pins is missing. Needs python3 -m pip
# and gcc.
#
# Why 13.0: H100-class machines with driver 580 (CUDA 13.0) carry cu13 libraries; PTX from a
# newer nvcc (13.1+) is refused by driver 580, a cu12 build would look for .so.12 libraries, and
# cudarc 0.19 knows CUDA up to 13.4. The binary links libcudart/libcublas/libcublasLt .so.13,
# libcurand .so.10 and the driver's libcuda.so.1: on a GPU machine, point LD_LIBRARY_PATH at its
# cu13 libraries (e.g. `python3 -c 'import nvidia,os; print(os.path.join(nvidia.__path__[0], "cu13", "lib"))'`).
SEMCLUST_CUDA_TK="${SEMCLUST_CUDA_TK:-$HOME/.cache/semclust-cuda}"
CUDA_WHEELS=(
    nvidia-cuda-nvcc==13.0.88 # bin/nvcc ptxas fatbinary nvlink cudafe++ (needs the next two)
    nvidia-cuda-crt==13.0.88  # include/crt
    nvidia-nvvm==13.0.88      # nvvm/bin/cicc, nvvm/libdevice
    nvidia-cuda-runtime==13.0.96 # cuda.h, cuda_runtime.h, libcudart.so.13 (candle-kernels links it)
    nvidia-cuda-cccl==13.0.85 # include/cccl
    nvidia-cuda-nvrtc==13.0.88 # libnvrtc.so.13   } cudarc (via candle-core) links these
    nvidia-cublas==13.0.2.14  # libcublas(Lt).so.13 } with `dynamic-linking`: they are needed
    nvidia-curand==10.4.0.35  # libcurand.so.10  } to link and to start the binary
)
CUDA_STAMP="$SEMCLUST_CUDA_TK/.stamp-$(printf '%s\n' "${CUDA_WHEELS[@]}" | sha256sum | cut -c1-16)"
export CUDA_HOME="$SEMCLUST_CUDA_TK/site/nvidia/cu13" # every cu13 wheel unpacks into this one root
if [ ! -e "$CUDA_STAMP" ]; then
    echo "== cuda: installing CUDA 13.0 wheels into $SEMCLUST_CUDA_TK"
    rm -rf "$SEMCLUST_CUDA_TK/site" "$SEMCLUST_CUDA_TK"/.stamp-*
    mkdir -p "$SEMCLUST_CUDA_TK/wheels"
    python3 -m pip download -q --no-deps --only-binary=:all: \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$SEMCLUST_CUDA_TK/wheels" "${CUDA_WHEELS[@]}"
    cuda_whls=()
    for spec in "${CUDA_WHEELS[@]}"; do
        n="${spec%%==*}"
        cuda_whls+=("$SEMCLUST_CUDA_TK/wheels/${n//-/_}-${spec##*==}"-*.whl)
    done
    python3 -m pip install -q --root-user-action=ignore --no-index --no-deps --no-compile --target "$SEMCLUST_CUDA_TK/site" "${cuda_whls[@]}"
    rm -rf "$SEMCLUST_CUDA_TK/wheels" # 644 MB; the stamp guards the install
    # The wheels ship only lib*.so.N: add the unversioned names the linker looks for.
    (cd "$CUDA_HOME/lib" && for l in cublas cublasLt cudart nvrtc; do ln -sf "lib$l.so.13" "lib$l.so"; done &&
        ln -sf libcurand.so.10 libcurand.so)
    # libcuda.so.1 comes with the NVIDIA driver, not with any wheel: build a stub with that soname
    # exporting every driver-API symbol cudarc binds. Each call returns CUDA_ERROR_NO_DEVICE (100),
    # so the binary links here and, on a GPU-less machine, `--device cuda` fails with a clear error.
    # It sits in lib/stubs, which cudarc's build script searches; never ship it to a GPU machine.
    cudarc_src="$(cargo metadata --format-version 1 --features cuda |
        python3 -c 'import json,os,sys; print(next(os.path.dirname(p["manifest_path"]) for p in json.load(sys.stdin)["packages"] if p["name"]=="cudarc"))')"
    if [ ! -f "$cudarc_src/src/driver/sys/mod.rs" ]; then
        echo "cuda: cudarc sources not found (got '$cudarc_src')" >&2
        return 1 2>/dev/null || exit 1
    fi
    mkdir -p "$CUDA_HOME/lib/stubs"
    {
        echo 'int cuGetErrorName(int e, const char **s) { if (s) *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN"; return 0; }'
        echo 'int cuGetErrorString(int e, const char **s) { if (s) *s = e == 100 ? "no CUDA-capable device is detected (libcuda stub: no NVIDIA driver on this machine)" : "unknown error (libcuda stub)"; return 0; }'
        grep -ohE '^pub unsafe fn cu[A-Za-z0-9_]+' "$cudarc_src/src/driver/sys/mod.rs" | awk '{print $4}' |
            sort -u | grep -vxE 'cuGetErrorName|cuGetErrorString' | sed 's/.*/int &(void) { return 100; }/'
    } >"$SEMCLUST_CUDA_TK/libcuda-stub.c"
    gcc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$CUDA_HOME/lib/stubs/libcuda.so.1" "$SEMCLUST_CUDA_TK/libcuda-stub.c"
    ln -sf libcuda.so.1 "$CUDA_HOME/lib/stubs/libcuda.so"
    "$CUDA_HOME/bin/nvcc" --version | tail -1
    touch "$CUDA_STAMP"
fi
export PATH="$CUDA_HOME/bin:$PATH" # cudarc's build runs `nvcc --version` from PATH; cudaforge finds nvcc here
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" # no GPU to ask here; cudaforge makes 90 sm_90a (H100/H200 only)
# To run a cuda build on this GPU-less machine (real cudart/cublas/curand + the libcuda stub):
CUDA_RUN_LD_LIBRARY_PATH="$CUDA_HOME/lib:$CUDA_HOME/lib/stubs"
# --------------------------------------------------------------------------------------------------
