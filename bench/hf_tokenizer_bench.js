// The reference: HuggingFace `tokenizers` (Rust, via its Node binding) on the same sentences,
// one thread (RAYON_NUM_THREADS=1), batches of 1000 (its fastest API), [CLS] text [SEP].
// Prints the same JSON fields as pkd_bench_tokenizer, with the same checksum of ids.
// Usage: RAYON_NUM_THREADS=1 node hf_tokenizer_bench.js TOKENIZER.json FILE.tsv COLUMN [PASSES]
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, 'node_modules', 'tokenizers'));

(async () => {
  const [tokenizerJson, file, column, passesArg] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tokenizerJson);
  const texts = fs.readFileSync(file, 'utf8').split('\n').slice(1).filter((l) => l.length)
                  .map((l) => l.split('\t')[Number(column)]);
  const passes = Number(passesArg || 3);
  let best = Infinity, tokens = 0, checksum = 0n;
  for (let pass = 0; pass < passes; pass++) {
    tokens = 0;
    checksum = 0n;
    const start = process.hrtime.bigint();
    for (let i = 0; i < texts.length; i += 1000) {
      const encodings = await tok.encodeBatch(texts.slice(i, i + 1000));
      for (const e of encodings) {
        const ids = e.getIds();
        tokens += ids.length;
        for (const id of ids) checksum = (checksum * 1000003n + BigInt(id)) & 0xffffffffffffffffn;
      }
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  console.log(JSON.stringify({ sentences: texts.length, tokens, seconds: best,
                               tokens_per_s: Math.round(tokens / best), checksum: checksum.toString() }));
})();
