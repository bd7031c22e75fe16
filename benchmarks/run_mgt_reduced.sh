#!/usr/bin/env bash
# The reduced MGT protocol of 2026-11-23 (docs/mgt.rst, "Results"): one low-priority core, <= 20 minutes a run.
# 500 rows per frame (load_frame(frame, n_samples=500), the shared sampling rule), the shared 5 folds,
# MGT (CPU setting) and CGNN (accurate setting) with the same 12 epochs, interleaved fold by fold so a
# killed run still leaves paired folds; then GBT on the same rows and folds; then (frame 1 only) pretraining
# on 1000 unlabeled structures of all four frames and scratch vs pretrained at 10 % / 30 % labels of fold 0.
# Every fold / run appends one JSON line as it finishes.  Usage:
#   nice -n 10 bash benchmarks/run_mgt_reduced.sh mp_dielectric [pretrain] > /tmp/mgt-red.log 2>&1
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=${PYTHON:-python}
FRAME=$1
B="$PY benchmarks/bench_mgt.py"
R="--n 500 --epochs 12 --tag n500_e12"
for k in 0 1 2 3 4; do
  $B cv --frame "$FRAME" --model mgt $R --fold-ids $k
  $B cv --frame "$FRAME" --model cgnn $R --fold-ids $k
done
$PY - "$FRAME" <<'PY'
import json, shutil, sys
from skcrystal.benchmark import run_benchmark
frame = sys.argv[1]
run_benchmark(models=("Dummy", "GBT"), frames=(frame,), preset="full", n_samples=500, out=f"/tmp/mgt-gbt500-{frame}",
              plots=False, verbose=0)
shutil.copy(f"/tmp/mgt-gbt500-{frame}/results.json", f"benchmarks/results/bench_mgt_gbt_{frame}_n500.json")
print("GBT done", frame, flush=True)
PY
if [ "$2" = pretrain ]; then
  $B pretrain --epochs 4 --n-pretrain 1000 --tag n1000_e4 --backbone /tmp/mgt_backbone_n1000.pt
  $B finetune --frames "$FRAME" $R --fractions 0.1,0.3 --backbone /tmp/mgt_backbone_n1000.pt
fi
$B table --tag n500_e12
