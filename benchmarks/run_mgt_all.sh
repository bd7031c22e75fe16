#!/usr/bin/env bash
# The MGT benchmark runs of docs/mgt.rst, in order of importance; each step resumes where it stopped.
# Run at low priority:  nice -n 10 bash benchmarks/run_mgt_all.sh > /tmp/mgt-bench.log 2>&1
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
B="${PYTHON:-python} benchmarks/bench_mgt.py"
$B cost
$B cv --frame mp_dielectric
$B pretrain --epochs 10
$B finetune --frames mp_dielectric
$B cv --frame mp_log_gvrh
$B finetune --frames mp_log_gvrh
$B cv --frame perovskites
$B cv --frame perovskites --model cgnn --epochs 120
$B cv --frame mp_e_form
$B cv --frame mp_e_form --model cgnn --epochs 120
$B finetune --frames perovskites,mp_e_form
$B table
