#!/usr/bin/env bash
# Third run of the reduced MGT protocol of 2026-11-23: folds 1-4 of the frames whose fold 0 ran in
# run_mgt_reduced_pretrain.sh (500 rows, shared folds, MGT and CGNN 12 epochs, interleaved fold by fold),
# then GBT and the mean on the same rows and folds.  Usage:
#   nice -n 10 bash benchmarks/run_mgt_reduced_frames.sh > /tmp/mgt-red3.log 2>&1
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=${PYTHON:-python}
B="$PY benchmarks/bench_mgt.py"
R="--n 500 --epochs 12 --tag n500_e12"
for k in 1 2 3 4; do
  for f in perovskites mp_e_form mp_log_gvrh; do
    $B cv --frame $f --model mgt $R --fold-ids $k
    $B cv --frame $f --model cgnn $R --fold-ids $k
  done
done
for f in perovskites mp_e_form mp_log_gvrh; do
  $PY - "$f" <<'PY'
import shutil, sys
from skcrystal.benchmark import run_benchmark
frame = sys.argv[1]
run_benchmark(models=("Dummy", "GBT"), frames=(frame,), preset="full", n_samples=500, out=f"/tmp/mgt-gbt500-{frame}",
              plots=False, verbose=0)
shutil.copy(f"/tmp/mgt-gbt500-{frame}/results.json", f"benchmarks/results/bench_mgt_gbt_{frame}_n500.json")
print("GBT done", frame, flush=True)
PY
done
