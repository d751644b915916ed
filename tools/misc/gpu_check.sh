#!/usr/bin/env bash
# mmhvit's GPU check on a bare CUDA machine (Python, torch with CUDA,
# torchvision, numpy, scipy, opencv, matplotlib, pytest; no OpenMMLab, no
# network), from this checkout and the bundle `make gpu-bundle` wrote
# (gpu_bundle/, carried along): docs/gpu.md.
#
#   bash tools/misc/gpu_check.sh            (from the checkout's root)
#
# Steps, each under `timeout` and within DEADLINE seconds in all (540: the
# whole run ends within 9 minutes); each writes its log to $OUT as it ends
# and adds its row to $OUT/summary.md:
#   env       nvidia-smi; Python, torch, CUDA, GPU; the bundle's target
#   install   the bundle's wheels the machine lacks, `pip install --no-index
#             --no-deps --target $SITE` (its numpy, scipy, opencv are kept;
#             nothing is compiled), PYTHONPATH=$SITE:checkout
#   stack     tools/misc/check_env.py's versions; the OpenMMLab models
#             import and mmcv's ops run on CUDA
#   pytest    pytest -m cuda tests/test_cuda.py, junit XML in $OUT
#   data      a synthetic ADE20K set at 512 x 512
#   train-*   per family, TRAIN_ITERS AMP iterations of its ADE20K config as
#             it ships (backbone from scratch) through
#             `tools/dist_train.sh CONFIG 1` with NCCL; logs in $OUT/train
#   report    the GPU report (markdown + JSON) in $OUT/report, with the
#             time left
# Without CUDA (a CPU machine: the dry run) the CUDA steps are skipped with
# their reason, and the machine's own installed stack is used.
#
# Environment: OUT (results; default work_dirs/gpu_check), BUNDLE
# (gpu_bundle), PYTHON (python3), DEADLINE (540), LIMIT_SCALE (1: each
# step's limit is multiplied by it), TRAIN_ITERS (20), STEPS
# (any of "pytest train report"; env, install and stack always run),
# PYTEST_ARGS, REPORT_MODELS (names, or "all"), REPORT_SETTINGS (ade20k),
# REPORT_PRECISIONS (bfloat16 float32), SITE (a fresh folder for
# the install; default /tmp/mmhvit-site).
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$(realpath -m "${OUT:-work_dirs/gpu_check}")
BUNDLE=$(realpath -m "${BUNDLE:-gpu_bundle}")
PYTHON=${PYTHON:-python3}
SITE=${SITE:-/tmp/mmhvit-site}
DEADLINE=${DEADLINE:-540}
LIMIT_SCALE=${LIMIT_SCALE:-1}
TRAIN_ITERS=${TRAIN_ITERS:-20}
STEPS=" ${STEPS:-pytest train report} "
# one backbone per family at its configs' size, and the upstream peers
REPORT_MODELS=${REPORT_MODELS:-hat_net-small hlg-small vit-base \
clustr-small pvt-small-hafa pvtv2-b2-hafa swin-tiny-hafa pvt-small \
pvtv2-b2 swin-tiny}
[[ $REPORT_MODELS == all ]] && REPORT_MODELS=
REPORT_SETTINGS=${REPORT_SETTINGS:-ade20k}
REPORT_PRECISIONS=${REPORT_PRECISIONS:-bfloat16 float32}
# family -> its ADE20K Semantic FPN / SETR-PUP config
TRAIN_CONFIGS=(
    hat_net=hat_net/fpn_hat-net-tiny_8xb2-amp-40k_ade20k-512x512.py
    hlg=hlg/setr-pup_hlg-small_8xb2-amp-160k_ade20k-512x512.py
    setr=setr/setr_vit-b-deit-pup_8xb2-160k_ade20k-512x512.py
    clustr=clustr/fpn_clustr-small_8xb2-amp-80k_ade20k-512x512.py
    hafa=hafa/fpn_pvt-tiny-hafa_8xb2-40k_ade20k-512x512.py
)
HELPER=$ROOT/tools/misc/gpu_check_steps.py
mkdir -p "$OUT"
SUMMARY=$OUT/summary.md
start=$SECONDS

elapsed() { echo $((SECONDS - start)); }
# row STEP STATUS SECONDS DETAIL: a row of summary.md, and a line of output
row() {
    echo "| $1 | $2 | $3 | ${4//|//} |" >> "$SUMMARY"
    echo "[$1] $2 ($3 s) $4"
}

# step NAME LIMIT COMMAND...: runs COMMAND under `timeout` (SIGINT, so that
# pytest still writes its XML; SIGKILL 15 s later), at most LIMIT seconds
# and never past DEADLINE, its output in $OUT/NAME.log; a summary row
step() {
    local name=$1 limit=$2 t0=$SECONDS rc=0 status
    shift 2
    limit=$((limit * LIMIT_SCALE))
    local left=$((DEADLINE - $(elapsed) - 20))
    (( left < limit )) && limit=$left
    if (( limit < 5 )); then
        row "$name" skipped 0 "no time left within DEADLINE=$DEADLINE s"
        return 1
    fi
    timeout --signal=INT --kill-after=15 "$limit" "$@" \
        > "$OUT/$name.log" 2>&1 || rc=$?
    case $rc in
        0) status=ok ;;
        124|137) status="timed out (${limit} s)" ;;
        *) status="failed (exit $rc)" ;;
    esac
    row "$name" "$status" $((SECONDS - t0)) "${DETAIL:-$(tail -n 1 "$OUT/$name.log" | cut -c1-200)}"
    return $rc
}

skip() { row "$1" skipped 0 "$2"; }
wanted() { [[ $STEPS == *" $1 "* ]]; }

{
    echo "# mmhvit GPU check, $(date -u '+%F %T UTC')"
    echo
    echo "checkout $(git describe --always --dirty 2>/dev/null || echo '?')"
    echo
    echo '| step | status | seconds | detail |'
    echo '|---|---|---|---|'
} > "$SUMMARY"

DETAIL= step env 30 bash -c 'nvidia-smi ||
    echo "nvidia-smi: not found"; "$0" "$1" machine "$2"' \
    "$PYTHON" "$HELPER" "$BUNDLE"
machine=$(tail -n 1 "$OUT/env.log")
case $machine in
    *'no CUDA device') CUDA_REASON='no CUDA device (torch.cuda.is_available() is False)' ;;
    'Python '*) CUDA_REASON= ;;
    *) CUDA_REASON="torch does not work: $machine" ;;
esac
[[ -n $CUDA_REASON ]] && echo "dry run: $CUDA_REASON"

# install: the machine's python3 is itself a venv (a venv made from it
# does not see its torch), hence --target and PYTHONPATH
if [[ ! -d $BUNDLE/wheels ]]; then
    if [[ -n $CUDA_REASON ]]; then
        skip install "no bundle at $BUNDLE/wheels; $CUDA_REASON: the installed stack is used"
    else
        skip install "no bundle at $BUNDLE/wheels: run make gpu-bundle on a machine with PyPI and carry gpu_bundle along (docs/gpu.md)"
        echo "cannot go on; see $SUMMARY"
        exit 1
    fi
else
    mapfile -t wheels < <("$PYTHON" "$HELPER" missing "$BUNDLE")
    if [[ -n $CUDA_REASON ]]; then
        printf '%s\n' "${wheels[@]}" > "$OUT/install.log"
        skip install "would install ${#wheels[@]} wheels (install.log); $CUDA_REASON: the installed stack is used"
    else
        rm -rf "$SITE"
        DETAIL="${#wheels[@]} wheels into $SITE" step install 90 \
            "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
            --disable-pip-version-check --target "$SITE" "${wheels[@]}" ||
            { echo "cannot go on; see $OUT/install.log"; exit 1; }
        export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
    fi
fi
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}

step stack 60 "$PYTHON" "$HELPER" stack

if wanted pytest; then
    DETAIL= step pytest 200 "$PYTHON" -m pytest -m cuda tests/test_cuda.py \
        -o addopts= -p no:cacheprovider -rs --durations=15 \
        --junitxml="$OUT/pytest-cuda.xml" ${PYTEST_ARGS:-}
    if [[ -f $OUT/pytest-cuda.xml ]]; then
        row pytest-counts - 0 "$("$PYTHON" "$HELPER" junit "$OUT/pytest-cuda.xml")"
    fi
else
    skip pytest "not in STEPS=$STEPS"
fi

train_args=(--amp --cfg-options model.backbone.init_cfg=None
    "train_cfg.max_iters=$TRAIN_ITERS" train_cfg.val_begin=1000000000
    default_hooks.checkpoint.interval=1000000000
    default_hooks.checkpoint.save_last=False default_hooks.logger.interval=5
    env_cfg.dist_cfg.backend=nccl)
if ! wanted train; then
    reason="not in STEPS=$STEPS"
elif [[ -n $CUDA_REASON ]]; then
    reason="$CUDA_REASON: nothing to train"
else
    reason=
fi
if [[ -n $reason ]]; then
    skip data "$reason"
    for entry in "${TRAIN_CONFIGS[@]}"; do
        family=${entry%%=*}
        echo "PYTHON=$PYTHON bash tools/dist_train.sh configs/${entry#*=} 1" \
            "--work-dir $OUT/train/$family ${train_args[*]}" \
            "{train,val,test}_dataloader.dataset.data_root=DATA" \
            > "$OUT/train-$family.log"
        skip "train-$family" "$reason (command: train-$family.log)"
    done
else
    data=$OUT/data
    step data 60 "$PYTHON" tools/misc/make_synthetic_data.py ade20k "$data" \
        --num-train 16 --num-val 2 --size 512 512
    data=$data/ADEChallengeData2016
    port=29500
    for entry in "${TRAIN_CONFIGS[@]}"; do
        family=${entry%%=*}
        port=$((port + 1))
        PYTHON=$PYTHON PORT=$port DETAIL= step "train-$family" 75 \
            bash tools/dist_train.sh "configs/${entry#*=}" 1 \
            --work-dir "$OUT/train/$family" "${train_args[@]}" \
            "train_dataloader.dataset.data_root=$data" \
            "val_dataloader.dataset.data_root=$data" \
            "test_dataloader.dataset.data_root=$data" &&
            row "train-$family" - 0 "$("$PYTHON" "$HELPER" training "$OUT/train/$family")"
    done
fi

# the time left, less the models' building and the report's writing
budget=$((DEADLINE - $(elapsed) - 60))
if ! wanted report; then
    skip report "not in STEPS=$STEPS"
elif [[ -n $CUDA_REASON ]]; then
    skip report "$CUDA_REASON (its CPU mode: tests/test_gpu_tools.py)"
elif (( budget < 20 )); then
    skip report "no time left within DEADLINE=$DEADLINE s"
else
    step report $((budget + 40)) "$PYTHON" \
        tools/analysis_tools/gpu_report.py $REPORT_MODELS \
        --settings $REPORT_SETTINGS --precisions $REPORT_PRECISIONS \
        --budget "$budget" --out-dir "$OUT/report"
fi

{
    echo
    echo "machine: $machine"
    echo
    echo "total: $(elapsed) s (DEADLINE $DEADLINE s)"
} >> "$SUMMARY"
echo "total: $(elapsed) s; results in $OUT (summary.md)"
