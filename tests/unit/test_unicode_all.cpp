// Every Unicode scalar value through the tokenizer, against HuggingFace `tokenizers` 0.23 on
// bert-base-uncased's tokenizer.json (tests/data/tokenize/unicode-all.tsv.gz, made by
// tools/goldens/make_unicode_golden.js): ids of "a" + c + "b" and of c alone. Tolerance: none.
#include <gtest/gtest.h>

#include "core/strings.h"
#include "support/test_support.h"
#include "text/bert_tokenizer.h"
#include "text/utf8.h"

namespace pkd::text {
namespace {

std::string ids_text(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s;
}

TEST(UnicodeAll, EveryCodePointMatchesHuggingFace) {
  BertTokenizer tok(Vocab::load(test::source_dir() + "/data/vocab/vocab.txt"), {});
  auto lines = test::read_gz_lines(test::source_dir() + "/tests/data/tokenize/unicode-all.tsv.gz");
  ASSERT_GT(lines.size(), 5000u);
  std::int64_t checked = 0, mismatches = 0;
  std::vector<std::int32_t> in_word, alone;
  for (const auto& line : lines) {
    auto f = split(line, '\t');
    ASSERT_EQ(f.size(), 4u) << line;
    const char32_t first = static_cast<char32_t>(std::stoul(f[0], nullptr, 16));
    const char32_t last = static_cast<char32_t>(std::stoul(f[1], nullptr, 16));
    for (char32_t cp = first; cp <= last; ++cp) {
      std::string c;
      append_utf8(cp, c);
      in_word.clear();
      alone.clear();
      tok.encode("a" + c + "b", in_word);
      tok.encode(c, alone);
      ++checked;
      if (ids_text(in_word) != f[2] || ids_text(alone) != f[3]) {
        if (++mismatches <= 10)
          ADD_FAILURE() << "U+" << std::hex << static_cast<unsigned>(cp) << ": got ["
                        << ids_text(in_word) << "] [" << ids_text(alone) << "], HuggingFace ["
                        << f[2] << "] [" << f[3] << "]";
      }
    }
  }
  EXPECT_EQ(checked, 0x110000 - 0x800);  // all scalar values: no surrogates
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace pkd::text
