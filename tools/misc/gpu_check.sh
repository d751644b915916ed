#!/usr/bin/env bash
# Runs mmhvit's CUDA tests and the GPU report on a CUDA machine without
# network, from the folder tools/misc/prepare_gpu_box.sh made (docs/gpu.md).
#
#   bash gpu_box/gpu_check.sh [RESULTS_DIR]        (default: gpu_box/results)
#
# Needs on the machine: Python (the prepared one's version), PyTorch with
# CUDA, the CUDA toolkit (nvcc, for mmcv's ops) and a C++ compiler. Steps,
# each timed in RESULTS_DIR/summary.txt, logs beside it:
#   1. a venv in gpu_box/work/venv that sees the system's torch, and the
#      bundled wheels installed into it offline (only what is missing)
#   2. mmcv built from its sdist with CUDA ops for this GPU (all cores); if
#      that fails, with CPU ops only, then without ops (see docs/gpu.md for
#      what runs then); a built wheel is kept for the next run
#   3. check_env.py, then pytest -m cuda tests/test_cuda.py (junit XML)
#   4. the GPU report (markdown + JSON), REPORT_BUDGET seconds at most
# Environment: TORCH_CUDA_ARCH_LIST (default: this GPU's), MAX_JOBS (nproc),
# MMCV_WITH_OPS=0 (skip the ops build), REPORT_MODELS (names, or "all"),
# REPORT_BUDGET (120), PYTEST_ARGS, PYTHON (python3), DRY_RUN=1 (print the
# steps' commands only).
set -uo pipefail

BUNDLE=$(cd "$(dirname "$0")" && pwd)
RESULTS=$(realpath -m "${1:-$BUNDLE/results}")
WORK=$BUNDLE/work
VENV=$WORK/venv
SRC=$WORK/src
PYTHON=${PYTHON:-python3}
REPORT_BUDGET=${REPORT_BUDGET:-120}
# one backbone per family at its configs' size, and the upstream peers
REPORT_MODELS=${REPORT_MODELS:-hat_net-small hlg-small clustr-small \
pvt-small-hafa pvtv2-b2-hafa swin-tiny-hafa pvt-small pvtv2-b2 swin-tiny \
vit-base vit-large}
[[ $REPORT_MODELS == all ]] && REPORT_MODELS=
export MAX_JOBS=${MAX_JOBS:-$(nproc)}
# the venv's ninja: without it torch builds extensions one file at a time
export PATH=$VENV/bin:$PATH
[[ ${DRY_RUN:-0} == 1 ]] || mkdir -p "$RESULTS"
SUMMARY=$RESULTS/summary.txt
start=$SECONDS

# step NAME COMMAND...: run (or print, DRY_RUN=1), log, time, record status
step() {
    local name=$1 t0=$SECONDS rc=0
    shift
    if [[ ${DRY_RUN:-0} == 1 ]]; then
        echo "[$name] $*"
        return 0
    fi
    echo "== $name"
    "$@" > "$RESULTS/$name.log" 2>&1 || rc=$?
    tail -n 3 "$RESULTS/$name.log"
    echo "$name: exit $rc, $((SECONDS - t0)) s" | tee -a "$SUMMARY"
    return $rc
}

venv_python() { "$VENV/bin/python" "$@"; }
# pip of the venv, or the system's pointed at it where venv has no ensurepip
PIP=("$VENV/bin/python" -m pip)
offline_install() { "${PIP[@]}" install -q --no-index "$@"; }

make_venv() {
    "$PYTHON" -c 'import torch; assert torch.cuda.is_available(), "no CUDA"
print("torch", torch.__version__, "CUDA", torch.version.cuda,
      torch.cuda.get_device_name(0))' || return 1
    if ! "$PYTHON" -m venv --system-site-packages "$VENV"; then
        "$PYTHON" -m venv --system-site-packages --without-pip "$VENV" ||
            return 1
        PIP=("$PYTHON" -m pip --python "$VENV/bin/python")
    fi
    local extra=()
    # a torchvision from the bundle only where the system has none
    "$PYTHON" -c 'import torchvision' 2>/dev/null || extra=(torchvision)
    offline_install --find-links "$BUNDLE/wheels" mmengine mmsegmentation \
        mmdet mmpretrain pytest "setuptools<81" wheel ninja \
        -r "$SRC/requirements/runtime.txt" "${extra[@]}" &&
        offline_install --no-deps "$BUNDLE"/wheels/mmhvit-*.whl
}

# build_mmcv MODE: cuda | cpu | none
build_mmcv() {
    local mode=$1 sdist build args=()
    sdist=$(ls "$BUNDLE"/sdist/mmcv-*.tar.gz) || return 1
    build=$WORK/mmcv-build-$mode
    rm -rf "$build" && mkdir -p "$build" && tar -xzf "$sdist" -C "$build"
    build=$(ls -d "$build"/mmcv-*/)
    # torch >= 2.14 headers need C++20 (mmcv 2.1.0 asks for C++17)
    if venv_python -c 'import sys, torch; v = torch.__version__.split(".")
sys.exit(not (int(v[0]), int(v[1])) >= (2, 14))'; then
        sed -i 's/-std=c++17/-std=c++20/g' "$build/setup.py"
    fi
    case $mode in
        cuda) export FORCE_CUDA=1 MMCV_WITH_OPS=1
              export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$(
                  venv_python -c 'import torch
print("%d.%d" % torch.cuda.get_device_capability())')} ;;
        # no GPU visible to setup.py: CPU ops only
        cpu) args=(env CUDA_VISIBLE_DEVICES=) FORCE_CUDA=0 MMCV_WITH_OPS=1 ;;
        none) args=(env MMCV_WITH_OPS=0) ;;
    esac
    "${args[@]}" "${PIP[@]}" wheel --no-build-isolation --no-deps \
        --no-index -w "$WORK/mmcv-$mode" "$build" &&
        offline_install --no-deps "$WORK/mmcv-$mode"/mmcv*.whl
}

install_mmcv() {
    local mode with_ops=${MMCV_WITH_OPS:-1}
    for mode in cuda cpu none; do
        [[ $mode != none && $with_ops == 0 ]] && continue
        if ls "$WORK/mmcv-$mode"/mmcv*.whl > /dev/null 2>&1 &&
            offline_install --no-deps "$WORK/mmcv-$mode"/mmcv*.whl; then
            echo "mmcv: reused the wheel built with $mode ops"
            return
        fi
        echo "building mmcv ($mode ops, $MAX_JOBS jobs)"
        if build_mmcv $mode; then echo "mmcv built: $mode ops"; return; fi
        echo "mmcv build with $mode ops FAILED"
    done
    return 1
}

check_env() {
    nvidia-smi
    cd "$SRC" && venv_python tools/misc/check_env.py
}

run_tests() {
    cd "$SRC" && venv_python -m pytest -m cuda tests/test_cuda.py \
        -o addopts= -p no:cacheprovider -rs --durations=15 \
        --junitxml="$RESULTS/pytest.xml" ${PYTEST_ARGS:-}
}

run_report() {
    echo "models: ${REPORT_MODELS:-all}"
    cd "$SRC" && venv_python tools/analysis_tools/gpu_report.py \
        $REPORT_MODELS --budget "$REPORT_BUDGET" --out-dir "$RESULTS/report"
}

[[ ${DRY_RUN:-0} == 1 ]] || : > "$SUMMARY"
step 0-unpack tar -xzf "$BUNDLE/mmhvit-src.tar.gz" --one-top-level="$SRC"
step 1-install make_venv || { echo "cannot install; see $RESULTS"; exit 1; }
step 2-mmcv install_mmcv
step 3-check_env check_env
step 3-pytest run_tests
step 4-gpu_report run_report
[[ ${DRY_RUN:-0} == 1 ]] && exit 0
echo "total: $((SECONDS - start)) s" | tee -a "$SUMMARY"
echo "results in $RESULTS"
