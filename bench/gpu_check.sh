#!/usr/bin/env bash
# One-shot GPU check (not CI): bertlab vs HF Trainer and vs a raw PyTorch loop, random
# bert-base weights, bf16, batch 32, SST-2-like (short) and IMDB-like (long, max_length 512)
# token data; then bertlab eager vs compiled. Writes logs and JSON under $OUT (default
# /tmp/gpu_check; bench.json is rewritten after each data kind, so a cut-short run keeps what
# it measured). Not yet timed end to end on a GPU: T_MAIN (420 s) and T_ABL (120 s) bound it.
#   bash bench/gpu_check.sh            # on a GPU machine, from the repository root
#   TINY=1 bash bench/gpu_check.sh     # a 2-minute CPU rehearsal with a tiny model
# Needs torch, transformers, lightning, torchmetrics, hydra-core, pandas; without an installed
# bertlab it uses ./src (and ./.gpu_site for packages carried to a machine without them:
# `make gpu-site` makes it).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD/.gpu_site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=${PY:-python3}
read -r -a ARGS <<< "${BENCH_ARGS:-}"   # e.g. BENCH_ARGS="--steps 160 --warmup 40"
if [ "${TINY:-0}" = 1 ]; then
  TINY_DIR=${TINY_DIR:-/tmp/bertlab_tiny_ckpt}
  $PY -c "from bertlab.testing import make_tiny_checkpoint as m; m('$TINY_DIR', max_positions=512)"
  ARGS+=(--model "$TINY_DIR" --steps 6 --warmup 2 --synthetic-size 600)
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 \
  | tee "$OUT/gpu.txt"
$PY -c "import torch, transformers, lightning; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'lightning', lightning.__version__)" 2>&1 | tee -a "$OUT/gpu.txt"
# 1. The comparison the issue asks for (train + eval, both data kinds, + the raw loop).
timeout "${T_MAIN:-420}" $PY bench/bench.py --data short,long --out "$OUT/bench.json" \
  "${ARGS[@]}" 2>&1 | grep -v "Loading weights\|it/s]" | tee "$OUT/bench.log"
# 2. Ablation: what torch.compile brings (bertlab eager, training only).
timeout "${T_ABL:-120}" $PY bench/bench.py --data short,long --skip-hf --no-eval \
  --override model.compile=false --out "$OUT/eager.json" "${ARGS[@]}" 2>&1 \
  | grep -v "Loading weights\|it/s]" | tee "$OUT/eager.log"
echo "gpu_check done"
