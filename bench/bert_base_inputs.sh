# Sourced by the BERT-base benchmarks (run_cache_bench.sh, run_distill_bench.sh,
# run_loader_bench.sh) after `root` and `build` are set: `teacher`, a random BERT-base in HF
# layout written once to BUILD_DIR/bench-teacher-bert-base, and
#   sst2_tokens DIR EXAMPLES [TOKENIZE FLAGS...]
# which tokenizes the first EXAMPLES SST-2 train sentences into DIR/tokens (DIR/data holds them).
teacher=$build/bench-teacher-bert-base
if [[ ! -f $teacher/pytorch_model.bin ]]; then
  echo "writing a random BERT-base teacher to $teacher ..."
  /usr/bin/python3 "$root/tools/bert_reference.py" --save-random "$teacher"
fi
sst2_tokens() {
  local dir=$1 examples=$2
  shift 2
  mkdir -p "$dir/data"
  rm -rf "$dir/tokens"
  head -n $((examples + 1)) "$root/data/glue/SST-2/train.tsv" > "$dir/data/train.tsv"
  "$build/bin/pkd" tokenize --task SST-2 --data-dir "$dir/data" --vocab "$root/data/vocab/vocab.txt" \
    --out "$dir/tokens" --log-level warn "$@" > /dev/null
}
