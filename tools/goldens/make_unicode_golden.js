// Generates tests/data/tokenize/unicode-all.tsv.gz: HuggingFace `tokenizers` output for every
// Unicode scalar value c, as ids of "a" + c + "b" and of c alone (no special tokens), using the
// bert-base-uncased tokenizer.json. Consecutive code points with identical output are merged
// into one line "first_hex<TAB>last_hex<TAB>ids(a c b)<TAB>ids(c)".
//
// Usage: (cd bench && npm install tokenizers) && node tools/goldens/make_unicode_golden.js \
//          data/vocab/tokenizer.json | gzip -9 > tests/data/tokenize/unicode-all.tsv.gz
const path = require('path');
const { Tokenizer } = require(path.join(__dirname, '../../bench/node_modules/tokenizers'));

(async () => {
  const tok = Tokenizer.fromFile(process.argv[2]);
  const lines = [];
  let run = null;
  const flush = () => {
    if (run) lines.push([run.first.toString(16), run.last.toString(16), run.key].join('\t'));
  };
  const B = 4096;
  for (let base = 0; base < 0x110000; base += B) {
    const cps = [];
    for (let cp = base; cp < base + B && cp < 0x110000; cp++)
      if (cp < 0xd800 || cp > 0xdfff) cps.push(cp);
    const inWord = await tok.encodeBatch(cps.map((cp) => 'a' + String.fromCodePoint(cp) + 'b'),
                                         { addSpecialTokens: false });
    const alone = await tok.encodeBatch(cps.map((cp) => String.fromCodePoint(cp)),
                                        { addSpecialTokens: false });
    cps.forEach((cp, i) => {
      const key = inWord[i].getIds().join(' ') + '\t' + alone[i].getIds().join(' ');
      if (run && run.key === key && run.last === cp - 1) {
        run.last = cp;
      } else {
        flush();
        run = { first: cp, last: cp, key };
      }
    });
  }
  flush();
  process.stdout.write(lines.join('\n') + '\n');
})();
