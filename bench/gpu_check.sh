#!/usr/bin/env bash
# One-shot GPU check (not CI): bertlab vs HF Trainer vs a raw PyTorch loop, random bert-base
# weights, bf16, batch 32, SST-2-like (short, max_length 128) and IMDB-like (long, 512) token
# data. Each side runs in its own process (--isolate) with the same warm-up, so no side reuses
# another's compiled graphs or cuDNN plans; each reports a steady-state figure (after the
# warm-up) and a cold one (all steps from a cold start: compile and first shapes included; with
# the synthetic size below the train split is about one epoch of those steps).
# Writes logs and JSON under $OUT (default /tmp/gpu_check; bench.json is rewritten after each
# data kind, so a cut-short run keeps what it measured).
#   bash bench/gpu_check.sh            # on one GPU, from the repository root: <= 8 minutes
#   TINY=1 bash bench/gpu_check.sh     # a CPU rehearsal with a tiny model (~3 minutes)
#   ABL=1 bash bench/gpu_check.sh      # + bertlab eager vs compiled (T_ABL more seconds)
# Time bound: T_MAIN (default 450 s) for the comparison, the whole script under 8 minutes with
# setup. Sizing (not yet timed on a GPU: no GPU in the session that wrote it): 3 sides x 2 data
# kinds = 6 processes of ~15 s start + compile (tens of seconds for the compiled sides) + 160
# steps (~10 s at the H200's measured 550-1,400 samples/s) + evaluation of 800 rows: an
# estimated 4 minutes a data kind, so long data (the headline gap) runs first and a run cut
# at T_MAIN keeps its row.
# Needs torch, transformers, lightning, torchmetrics, pandas on the machine; bertlab comes from
# ./src, and hydra-core, omegaconf, antlr4 (+ accelerate, psutil if missing there) from
# ./.gpu_site, which `make gpu-site` (bench/gpu_site.py) fills: carry it with the device tool.
# No data or model package is needed (synthetic token ids, random weights).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
# ./src first (bertlab, not installed there); bench.py appends ./.gpu_site after site-packages
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=${PY:-python3}
START=$SECONDS
# 160 steps of which 40 warm-up; 6,400 examples = 5,120 train rows = one epoch of 160 steps
read -r -a ARGS <<< "${BENCH_ARGS:---steps 160 --warmup 40 --synthetic-size 6400}"
if [ "${TINY:-0}" = 1 ]; then  # a random 2-layer model (bench.py --model tiny): no package
  ARGS+=(--model tiny --steps 6 --warmup 2 --synthetic-size 600)
fi
if ! $PY -c "import sys; sys.path.append('.gpu_site'); import hydra, omegaconf" 2>/dev/null; then
  echo "gpu_check: hydra/omegaconf not importable: run 'make gpu-site' and carry .gpu_site" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 \
  | tee "$OUT/gpu.txt"
$PY -c "import torch, transformers, lightning; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'lightning', lightning.__version__)" 2>&1 | tee -a "$OUT/gpu.txt"
# 1. The comparison the issue asks for: train (steady + cold) and eval, both data kinds, HF,
#    bertlab (its defaults for the device: trainer=gpu pads to <= 16 length buckets) and raw.
timeout "${T_MAIN:-450}" $PY bench/bench.py --data long,short --isolate --out "$OUT/bench.json" \
  "${ARGS[@]}" 2>&1 | grep -v "Loading weights\|it/s]" | tee "$OUT/bench.log"
# 2. Optional ablation: what torch.compile brings (bertlab eager, training only).
if [ "${ABL:-0}" = 1 ]; then
  timeout "${T_ABL:-120}" $PY bench/bench.py --data short,long --skip-hf --no-eval --no-raw \
    --override model.compile=false --out "$OUT/eager.json" "${ARGS[@]}" 2>&1 \
    | grep -v "Loading weights\|it/s]" | tee "$OUT/eager.log"
fi
echo "gpu_check done in $((SECONDS - START)) s"
