#!/usr/bin/env bash
# The main job on the bundled default: sets up the machine (Debian packages, as root), builds
# pkd and runs the whole pipeline on the bundled real SST-2 data with 2 MPI ranks:
#   tokenize -> fine-tune a teacher from scratch -> cache its features once ->
#   distill a 2-layer student with PKD, and fine-tune the same student without a teacher,
# then prints their dev accuracy and what it does and does not show. Output: out/demo/.
# About 5 minutes on 2 idle cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh
build=${BUILD_DIR:-$root/build}
pkd=$build/bin/pkd
source "$root/tests/mpi/common.sh"  # mpirun on this machine: loopback, root allowed
np=${NP:-2}
threads=$(( $(nproc) / np > 0 ? $(nproc) / np : 1 ))
run() { echo "+ $*" >&2; "$@"; }

run "$pkd" tokenize --config configs/demo/tokenize.toml
if [[ ! -f out/demo/teacher/model/config.json ]]; then
  run mpirun_local -np "$np" "$pkd" finetune --config configs/demo/teacher.toml \
    --intra-op-threads "$threads" --resume
fi
run mpirun_local -np "$np" "$pkd" cache-teacher --model out/demo/teacher/model \
  --tokens out/demo/tokens/SST-2/train --out out/demo/features/SST-2/train --intra-op-threads "$threads"
for student in pkd finetuned; do
  extra=()
  [[ $student == finetuned ]] && extra=(--alpha 0 --beta 0)
  if [[ ! -f out/demo/student-$student/model/config.json ]]; then
    run mpirun_local -np "$np" "$pkd" distill --config configs/demo/student.toml "${extra[@]}" \
      --output-dir "out/demo/student-$student" --intra-op-threads "$threads" --resume
  fi
done

accuracy() { printf "%.4f" "$(grep -o "\"accuracy\": *[0-9.]*" "$1/eval_results.json" | grep -o "[0-9.]*$")"; }
layers() { grep -o '"num_hidden_layers": *[0-9]*' "$1/model/config.json" | grep -o '[0-9]*$'; }
hidden() { grep -o '"hidden_size": *[0-9]*' "$1/model/config.json" | grep -o '[0-9]*$'; }
epochs() { grep -o '^epochs = [0-9]*' "$1/finetune.toml" | grep -o '[0-9]*$'; }
echo
echo "SST-2 dev accuracy (872 sentences; majority class 0.509), small models trained on 2 CPU cores:"
echo
echo "| model | layers | dev accuracy |"
echo "|---|---|---|"
echo "| teacher: BERT trained from scratch (hidden $(hidden out/demo/teacher), $(epochs out/demo/teacher) epoch(s), no pretraining) | $(layers out/demo/teacher) | $(accuracy out/demo/teacher) |"
echo "| student, fine-tuned without the teacher (alpha = beta = 0) | $(layers out/demo/student-finetuned) | $(accuracy out/demo/student-finetuned) |"
echo "| student, PKD-Skip (alpha 0.5, beta 100, T 5) | $(layers out/demo/student-pkd) | $(accuracy out/demo/student-pkd) |"
cat <<'TEXT'

What this shows: the whole pipeline on the real GLUE SST-2 files, scored with the official
metric (dev accuracy), with 2 MPI ranks: tokenize -> fine-tune -> cache the teacher once ->
distil -> GLUE submission files.
What it does not show: the paper's numbers, or that PKD beats fine-tuning. No pretrained BERT
is used: a 4-layer teacher trained from scratch in minutes reaches roughly 0.8 on SST-2 dev,
where a fine-tuned bert-base-uncased (the paper's teacher) reaches about 0.93, and
at this scale the gap between the two students is within what another --seed changes (the
README gives three seeds).
Comparable numbers need bert-base-uncased, the full GLUE data and the paper's grid
(configs/glue/, `pkd sweep`, docs/cluster.md).
TEXT
echo
echo "GLUE submission files: out/demo/student-*/SST-2.tsv"
