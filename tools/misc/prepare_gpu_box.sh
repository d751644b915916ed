#!/usr/bin/env bash
# Builds, on a machine with network, one folder that a CUDA machine with only
# Python, PyTorch and the CUDA toolkit needs to test and measure mmhvit
# offline: tools/misc/gpu_check.sh runs it there (docs/gpu.md).
#
#   tools/misc/prepare_gpu_box.sh [--list] [OUT_DIR]      (default: gpu_box)
#
# OUT_DIR/
#   wheels/      binary wheels for the target Python (manylinux x86_64) of the
#                OpenMMLab stack (mmengine, mmsegmentation, mmdet, mmpretrain),
#                their dependencies, pytest, torchvision (--no-deps, used only
#                where the target has none), setuptools<81, wheel, ninja, and
#                mmhvit's own wheel
#   sdist/       mmcv's source distribution (built with CUDA ops on the target)
#   mmhvit-src.tar.gz   this checkout (tests, tools, configs)
#   gpu_check.sh        the runner;  MANIFEST.txt: what is in the folder
#
# Environment: TARGET_PYTHON (3.12), TARGET_TORCH (2.11.0: picks torchvision
# 0.(minor+15)), PYTHON (the interpreter running pip here; it needs torch and
# setuptools<81 to read mmcv's sdist: default .venv/bin/python).
# --list prints what would be fetched and built, without network.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIST=0
if [[ ${1:-} == --list ]]; then LIST=1; shift; fi
OUT=$(realpath -m "${1:-$ROOT/gpu_box}")
TARGET_PYTHON=${TARGET_PYTHON:-3.12}
TARGET_TORCH=${TARGET_TORCH:-2.11.0}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
torch_minor=$(echo "$TARGET_TORCH" | cut -d. -f2)
TORCHVISION="torchvision==0.$((torch_minor + 15)).*"
pin() { sed -n "s/^$1==//p" "$ROOT/requirements/mminstall.txt"; }
MMCV="mmcv==$(pin mmcv)"
# What the target needs besides torch: the OpenMMLab packages but mmcv, the
# runtime and test requirements, mmcv's build tools (setuptools<81 also
# serves mmengine's pkg_resources import at run time).
REQUIREMENTS=(
    $(grep -v '^mmcv' "$ROOT/requirements/mminstall.txt" | grep -v '^#')
    -r "$ROOT/requirements/runtime.txt"
    pytest
    -r "$ROOT/requirements/build.txt"
)
# the versions the CPU test suite runs with (PYTHON's environment), where
# they exist for the target; PIN=0 takes the newest instead
PINS=$(mktemp)
trap 'rm -rf "$PINS" ${copy:-}' EXIT
if [[ ${PIN:-1} == 1 && $LIST == 0 ]]; then
    "$PYTHON" -m pip freeze --exclude-editable |
        grep -v -E '^(torch|torchvision|triton|nvidia-|mmcv|mmhvit)' > "$PINS"
fi
PY_TAG=${TARGET_PYTHON/./}
PLATFORM=(--python-version "$TARGET_PYTHON" --implementation cp
          --abi "cp$PY_TAG" --platform manylinux2014_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64
          --only-binary=:all:)

if [[ $LIST == 1 ]]; then
    echo "target: CPython $TARGET_PYTHON manylinux x86_64, torch $TARGET_TORCH"
    echo "into: $OUT"
    echo "1. wheels/: pip download ${PLATFORM[*]}"
    echo "     ${REQUIREMENTS[*]}"
    echo "   pinned to the versions of $PYTHON's environment (PIN=0: newest)"
    echo "   and $TORCHVISION (--no-deps)"
    echo "2. sdist/: pip download --no-binary :all: --no-deps $MMCV"
    echo "3. wheels/: mmhvit's wheel, built from a copy of this checkout"
    echo "4. mmhvit-src.tar.gz: the checkout (tracked and untracked files" \
         "that git does not ignore)"
    echo "5. check: pip resolves all of it offline from wheels/ (dry run)"
    echo "6. gpu_check.sh and MANIFEST.txt"
    exit 0
fi

start=$SECONDS
mkdir -p "$OUT/wheels" "$OUT/sdist"
echo "== 1. wheels for CPython $TARGET_PYTHON (manylinux x86_64)"
"$PYTHON" -m pip download -q -d "$OUT/wheels" "${PLATFORM[@]}" \
    -c "$PINS" "${REQUIREMENTS[@]}"
"$PYTHON" -m pip download -q -d "$OUT/wheels" "${PLATFORM[@]}" --no-deps \
    "$TORCHVISION"

echo "== 2. $MMCV source"
# pip reads the sdist's metadata by running its setup.py (torch, setuptools)
MMCV_WITH_OPS=1 "$PYTHON" -m pip download -q --no-binary :all: --no-deps \
    --no-build-isolation -d "$OUT/sdist" "$MMCV"

echo "== 3./4. mmhvit's wheel and source"
copy=$(mktemp -d)
# a copy: building a wheel rewrites mmhvit/.mim, which an editable install
# of this checkout links
(cd "$ROOT" && git ls-files -co --exclude-standard -z |
    xargs -0 tar -cf - --ignore-failed-read) | tar -xf - -C "$copy"
tar -czf "$OUT/mmhvit-src.tar.gz" -C "$copy" .
"$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$OUT/wheels" \
    "$copy"
cp "$ROOT/tools/misc/gpu_check.sh" "$OUT/gpu_check.sh"

echo "== 5. check: the wheels satisfy, offline, what gpu_check.sh installs"
"$PYTHON" -m pip install -q --dry-run --ignore-installed --no-index \
    --find-links "$OUT/wheels" --target "$copy/check" "${PLATFORM[@]}" \
    "${REQUIREMENTS[@]}" "$OUT"/wheels/mmhvit-*.whl

echo "== 6. MANIFEST.txt"
{
    echo "mmhvit GPU bundle: CPython $TARGET_PYTHON, torch $TARGET_TORCH," \
         "prepared $(date -u '+%F %T UTC') from" \
         "$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?')"
    (cd "$OUT" && du -sh wheels sdist mmhvit-src.tar.gz && du -sh .)
    (cd "$OUT" && ls wheels sdist)
} > "$OUT/MANIFEST.txt"
cat "$OUT/MANIFEST.txt" | head -6
echo "prepared $OUT in $((SECONDS - start)) s; copy it to the GPU machine" \
     "and run: bash $(basename "$OUT")/gpu_check.sh"
