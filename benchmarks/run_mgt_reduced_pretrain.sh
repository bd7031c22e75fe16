#!/usr/bin/env bash
# Second run of the reduced MGT protocol of 2026-11-23 (after run_mgt_reduced.sh FRAME): one low-priority core.
# 1. pretrain MGTPretrainer (the CPU setting of bench_mgt.py) for 5 epochs on 1000 unlabeled structures sampled
#    from all four bundled frames; 2. on fold 0 of FRAME (500 rows, the shared folds), fine-tune with 10 %, 30 %,
#    100 % of the fold's training labels from scratch and from the pretrained backbone (12 epochs each; the 100 %
#    scratch run is the CV's fold 0); 3. fold 0 of the other frames (MGT and CGNN; router weights per task);
#    4. cost: parameters, epoch time, peak RSS on 128 MP structures.  Usage:
#   nice -n 10 bash benchmarks/run_mgt_reduced_pretrain.sh mp_dielectric > /tmp/mgt-red2.log 2>&1
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=${PYTHON:-python}
FRAME=$1
B="$PY benchmarks/bench_mgt.py"
R="--n 500 --epochs 12 --tag n500_e12"
$B pretrain --epochs 5 --n-pretrain 1000 --tag n1000_e5 --backbone /tmp/mgt_backbone_n1000_e5.pt
$B finetune --frames "$FRAME" $R --fractions 0.1,0.3,1.0 --backbone /tmp/mgt_backbone_n1000_e5.pt
for f in perovskites mp_e_form mp_log_gvrh; do
  $B cv --frame $f --model mgt $R --fold-ids 0
  $B cv --frame $f --model cgnn $R --fold-ids 0
done
$B cost --n-cost 128 --cost-frames mp_e_form --tag n128
