#!/usr/bin/env bash
# The GPU path, checked and timed in one call of at most 8 minutes: tests/test_gpu_path.py,
# then this project's training against the hand-written loop on the same GPU, with the data
# held on the device (images/s and the ratio in bench/results/gpu/train_speed_cuda.md).
#
#   bash bench/gpu_pack.sh                 # here, first: .gpu/ with wheels and the dataset
#   bash bench/gpu_check.sh                # on the GPU machine, from the repo root, with .gpu/
#   bash bench/gpu_check.sh --dry-run      # the same steps on this CPU, small: checks the script
#
# STEPS=k sets the steps_per_execution timed besides 1 (default 8). Results go to
# $RESULTS (default bench/results/gpu/) and, when $OUT is set (a device run), are copied
# there as they come.
set -euo pipefail
cd "$(dirname "$0")/.."

DRY_RUN=false
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=true
STEPS=${STEPS:-8}
RESULTS=${RESULTS:-bench/results/gpu}
mkdir -p "$RESULTS"
started=$SECONDS
say() { echo "[gpu_check $((SECONDS - started))s] $*"; }
keep() { [[ -n "${OUT:-}" ]] && cp -r "$RESULTS" "$OUT/" || true; }
trap keep EXIT

if $DRY_RUN; then
    PY=${PYTHON:-.venv/bin/python}
else
    PY=${PYTHON:-python3}
fi

# 1. What the machine lacks: the wheels of bench/gpu_pack.sh, installed beside its own stack.
if ls .gpu/wheels/*.whl >/dev/null 2>&1; then
    say "installing $(ls .gpu/wheels | wc -l) wheels"
    "$PY" -m pip install --quiet --no-index --no-deps --no-compile --target /tmp/gpu-site \
        --upgrade .gpu/wheels/*.whl
    export PYTHONPATH=/tmp/gpu-site${PYTHONPATH:+:$PYTHONPATH}
fi
"$PY" -c "import torch, lightning, hydra; print('torch', torch.__version__, \
'lightning', lightning.__version__, 'hydra', hydra.__version__, \
'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())" | tee "$RESULTS/versions.txt"

# 2. The dataset, from the packed .gz files when there are any.
if ls .gpu/fashion-mnist/*.gz >/dev/null 2>&1; then
    "$PY" -m hydra_app.prepare_data "data.system_dirs=[$PWD/.gpu/fashion-mnist]"
else
    "$PY" -m hydra_app.prepare_data
fi

# 3. The accelerator path's tests (they skip without a GPU: the dry run only runs them).
say "tests/test_gpu_path.py"
"$PY" -m pytest tests/test_gpu_path.py -q -p no:cacheprovider 2>&1 | tee "$RESULTS/tests.txt"

# 4. Timings, each contender in its own process, alternating within a repeat.
if $DRY_RUN; then
    device=cpu models=(lenet) batch_sizes=(128) repeats=1 epochs=1 warmup=0
    precision=(trainer.precision=bf16-mixed)  # compiling on the CPU alone takes minutes
else
    device=cuda models=(lenet small vae) batch_sizes=(128 512) repeats=1 epochs=2 warmup=1
    precision=(trainer.precision=bf16-mixed compile=true)
fi
say "k=1 and k=$STEPS against the hand-written loop: ${models[*]}, batch ${batch_sizes[*]}"
"$PY" bench/train_speed.py --device "$device" --models "${models[@]}" \
    --batch-sizes "${batch_sizes[@]}" --contenders floor project \
    --project-variants "steps_per_execution=$STEPS" \
    --repeats "$repeats" --epochs "$epochs" --warmup "$warmup" --out "$RESULTS/steps"
keep
say "${precision[*]}: lenet, batch ${batch_sizes[*]}"
"$PY" bench/train_speed.py --device "$device" --models lenet \
    --batch-sizes "${batch_sizes[@]}" --contenders floor project \
    --project-variants "${precision[@]}" \
    --repeats "$repeats" --epochs "$epochs" --warmup "$warmup" --out "$RESULTS/precision"
say "done: $RESULTS/steps/train_speed_$device.md, $RESULTS/precision/train_speed_$device.md"
