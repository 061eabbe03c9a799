#!/usr/bin/env bash
# STS-B, the one GLUE regression task, end to end through the `pkd` binary on real STS-B pairs:
#   tokenize -> fine-tune a tiny 4-layer teacher from scratch -> cache its features (2 ranks) ->
#   distil 2-layer students under `mpirun -np 2`: PKD-Skip (alpha, beta > 0), vanilla KD (beta = 0)
#   and the fine-tuned baseline (alpha = beta = 0) -> predict dev and test (2 ranks) -> pkd report.
# Checks (tests/e2e/stsb_checks.py): dev metrics `pearson`/`spearmanr` finite in every
# eval_results.json and equal to `pkd eval` of the exported model and to Pearson/Spearman
# recomputed from `pkd predict`'s dev scores; STS-B.tsv = index<TAB>score, one finite score per
# test pair; the distill logs' loss = (1-a) ce + a kd + b pt with kd > 0 (regression KD is the
# squared error to the teacher, not a softmax over one logit, which is always 0) and pt > 0;
# the report's STS-B column shows Pearson/Spearman x100 for the 4 rows, results.csv has
# dev.pearson and dev.spearmanr, glue_submission.zip holds the PKD run's STS-B.tsv.
#
# The repository bundles only STS-B's dev file (1,500 scored pairs; GLUE's train and test are not
# redistributed here), so this test makes its three splits from it: every 10th pair from row 5 is
# dev, every 10th from row 10 is test (score column dropped: GLUE's test layout), the other 1,200
# train. The numbers are a pipeline check, not STS-B results (a from-scratch teacher on 1,200 pairs
# learns little more than the mean score).
# Usage: stsb_end_to_end.sh PKD_BINARY SOURCE_DIR    (about 75 s on 2 busy cores)
source "$(dirname "$0")/../mpi/common.sh"   # set -euo pipefail; mpirun_local
pkd=$1 src=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
# STSB_E2E_KEEP=1 keeps the work directory (printed) for a look at the runs and the report.
if [[ ${STSB_E2E_KEEP:-0} == 1 ]]; then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
# run LOG CMD...: run a step, keep its output in LOG, show it when the step fails.
run() {
  local log=$1; shift
  echo "+ $*" | sed "s|$work|\$work|g"
  "$@" > "$log" 2>&1 || { local rc=$?; cat "$log"; fail "step failed with exit status $rc: $*"; }
}

stsb=$src/data/glue/STS-B/dev.tsv
[[ -f $stsb ]] || fail "$stsb: the bundled STS-B dev file is missing"
mkdir -p "$work/data"
awk -F'\t' -v OFS='\t' -v d="$work/data" '
  NR == 1 { print > (d "/train.tsv"); print > (d "/dev.tsv"); NF = 9; print > (d "/test.tsv"); next }
  (NR - 2) % 10 == 4 { print > (d "/dev.tsv"); next }
  (NR - 2) % 10 == 9 { NF = 9; print > (d "/test.tsv"); next }
  { print > (d "/train.tsv") }' "$stsb"
for split in train:1201 dev:151 test:151; do
  lines=$(wc -l < "$work/data/${split%%:*}.tsv")
  [[ $lines -eq ${split#*:} ]] || fail "$work/data/${split%%:*}.tsv has $lines lines, expected ${split#*:}"
done

tok=$work/tokens runs=$work/runs
common=(--intra-op-threads 1 --batch-size 32 --learning-rate 1e-3
        --dev "$tok/dev" --test "$tok/test" --log-every 5)
run "$work/tokenize.log" "$pkd" tokenize --task STS-B --data-dir "$work/data" \
  --vocab "$src/data/vocab/vocab.txt" --max-seq-length 128 --out "$tok"
for split in train:1200 dev:150 test:150; do
  grep -Eq "^${split%%:*} +${split#*:} " "$work/tokenize.log" \
    || { cat "$work/tokenize.log"; fail "tokenize: expected ${split#*:} examples in split ${split%%:*}"; }
done

run "$work/teacher.log" "$pkd" finetune --init random --hidden-size 64 --num-hidden-layers 4 \
  --num-attention-heads 2 --intermediate-size 128 --train "$tok/train" --epochs 3 \
  --output-dir "$runs/teacher" "${common[@]}"
run "$work/cache.log" mpirun_local -np 2 "$pkd" cache-teacher --model "$runs/teacher/model" \
  --tokens "$tok/train" --out "$work/features/train" --intra-op-threads 1
distill=(distill --teacher "$runs/teacher/model" --features "$work/features/train" --train "$tok/train"
         --student-layers 2 --epochs 2 --temperature 5 "${common[@]}")
run "$work/pkd.log" mpirun_local -np 2 "$pkd" "${distill[@]}" --alpha 0.5 --beta 10 --output-dir "$runs/students/pkd"
run "$work/kd.log" mpirun_local -np 2 "$pkd" "${distill[@]}" --alpha 0.7 --beta 0 --output-dir "$runs/students/kd"
run "$work/ft.log" mpirun_local -np 2 "$pkd" "${distill[@]}" --alpha 0 --beta 0 --output-dir "$runs/students/ft"
grep -q "teacher layers for PT: 2" "$work/pkd.log" \
  || { cat "$work/pkd.log"; fail "$work/pkd.log: expected PKD-Skip to map the 2-layer student's layer 1 to teacher layer 2"; }

# The exported PKD student again, outside training: dev metrics and both splits' predictions.
student=$runs/students/pkd/model
run "$work/eval.log" mpirun_local -np 2 "$pkd" eval --model "$student" --tokens "$tok/dev" \
  --out "$work/eval.json" --intra-op-threads 1
run "$work/predict-dev.log" mpirun_local -np 2 "$pkd" predict --model "$student" --tokens "$tok/dev" \
  --out "$work/dev-predictions.tsv" --intra-op-threads 1
run "$work/predict-test.log" mpirun_local -np 2 "$pkd" predict --model "$student" --tokens "$tok/test" \
  --out "$work/STS-B.tsv" --intra-op-threads 1

run "$work/report.log" "$pkd" report --runs "$runs" --out "$work/report" --strict

/usr/bin/python3 "$here/stsb_checks.py" "$work"
echo "PASS"
