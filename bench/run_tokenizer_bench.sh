#!/usr/bin/env bash
# Tokenizer benchmark: pkd vs HuggingFace `tokenizers` on the real SST-2 train split, one thread
# each, in one invocation; checks that both produced identical ids, prints the ratio.
# Usage: bench/run_tokenizer_bench.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bench=$root/bench
data=$root/data/glue/SST-2/train.tsv
if [[ ! -d $bench/node_modules/tokenizers ]]; then
  echo "installing HuggingFace tokenizers (npm) into bench/node_modules ..."
  (cd "$bench" && npm install --no-save --no-audit --no-fund tokenizers@0.23.2 >/dev/null)
fi
# The checksum counts the tokens of the timed work, so the reference is not spared any of it.
# Tokenizing also lands in the page cache before either timing starts.
pkd=$(taskset -c 0 "$build/bin/pkd_bench_tokenizer" "$root/data/vocab/vocab.txt" "$data" 0 10)
hf=$(RAYON_NUM_THREADS=1 taskset -c 0 node "$bench/hf_tokenizer_bench.js" "$root/data/vocab/tokenizer.json" "$data" 0 3)
echo "pkd:          $pkd"
echo "hf tokenizers: $hf"
/usr/bin/python3 - "$pkd" "$hf" <<'PY'
import json, sys
pkd, hf = (json.loads(s) for s in sys.argv[1:3])
if pkd["checksum"] != hf["checksum"] or pkd["tokens"] != hf["tokens"]:
    sys.exit("FAIL: the two tokenizers produced different ids")
print(f"identical ids for {pkd['sentences']} sentences, {pkd['tokens']} tokens")
print(f"pkd {pkd['tokens_per_s']/1e6:.2f} Mtok/s, HF tokenizers {hf['tokens_per_s']/1e6:.2f} Mtok/s "
      f"(1 thread each): ratio {pkd['tokens_per_s']/hf['tokens_per_s']:.1f}x")
PY
