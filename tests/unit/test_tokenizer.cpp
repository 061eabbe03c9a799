// Unit tests of BERT tokenization semantics on the real bert-base-uncased vocabulary. The full
// equivalence with HuggingFace is in test_unicode_all.cpp and the CLI golden tests.
#include <gtest/gtest.h>

#include "core/error.h"
#include "support/test_support.h"
#include "text/bert_tokenizer.h"
#include "text/sequence_encoder.h"

namespace pkd::text {
namespace {

const BertTokenizer& uncased() {
  static const BertTokenizer t(Vocab::load(test::source_dir() + "/data/vocab/vocab.txt"), {});
  return t;
}

std::string pieces(const BertTokenizer& t, std::string_view text) {
  return join(t.tokenize(text), " ");
}

TEST(BertTokenizer, LowercasesSplitsPunctuationAndWordPieces) {
  EXPECT_EQ(pieces(uncased(), "Hello, World!"), "hello , world !");
  EXPECT_EQ(pieces(uncased(), "unaffable"), "una ##ffa ##ble");
  EXPECT_EQ(pieces(uncased(), "don't"), "don ' t");
  // ASCII symbols that Unicode does not call punctuation are still split ($ + < = > ^ ` | ~).
  EXPECT_EQ(pieces(uncased(), "a$b+c"), "a $ b + c");
}

TEST(BertTokenizer, StripsAccentsAndHandlesCjk) {
  EXPECT_EQ(pieces(uncased(), "Héllo naïve café"), "hello naive cafe");
  EXPECT_EQ(pieces(uncased(), "北京"), "北 京");
}

TEST(BertTokenizer, CleansControlAndFormatCharacters) {
  // NUL, U+FFFD and a zero-width space (Cf) vanish; tab and NBSP become separators.
  EXPECT_EQ(pieces(uncased(), std::string("ab\0cd", 5)), pieces(uncased(), "abcd"));
  EXPECT_EQ(pieces(uncased(), "zero\xE2\x80\x8Bwidth"), pieces(uncased(), "zerowidth"));
  EXPECT_EQ(pieces(uncased(),
                   "a\xEF\xBF\xBD"
                   "b\x07"),
            pieces(uncased(), "ab"));
  EXPECT_EQ(pieces(uncased(),
                   "a\tb\xC2\xA0"
                   "c"),
            "a b c");
}

TEST(BertTokenizer, SpecialTokensAreNeverSplitButOnlyExactly) {
  EXPECT_EQ(pieces(uncased(), "[CLS] x[SEP]y"), "[CLS] x [SEP] y");
  EXPECT_EQ(pieces(uncased(), "[cls]"), "[ cl ##s ]");
}

TEST(BertTokenizer, LongOrUnknownWordsBecomeUnk) {
  EXPECT_EQ(pieces(uncased(), std::string(100, 'a')).find("[UNK]"), std::string::npos);
  EXPECT_EQ(pieces(uncased(), std::string(101, 'a')), "[UNK]");
  EXPECT_EQ(pieces(uncased(), "x\xE2\x98\x83y"), "[UNK]");  // x☃y: no piece for ☃ inside a word
}

TEST(BertTokenizer, CasedModeKeepsCaseAndAccents) {
  BertTokenizerOptions cased;
  cased.lowercase = false;
  BertTokenizer t(Vocab::load(test::source_dir() + "/data/vocab/vocab.txt"), cased);
  // The uncased vocab has neither "Hello" nor "é": the cased path must keep both as they are.
  EXPECT_NE(join(t.tokenize("Hello"), " "), "hello");
  EXPECT_EQ(join(t.tokenize("é"), " "), "[UNK]");
  EXPECT_EQ(pieces(uncased(), "é"), "e");
}

TEST(BertTokenizer, InvalidUtf8IsAnErrorWithTheByteOffset) {
  std::vector<std::int32_t> ids;
  try {
    uncased().encode("ok \xC3\x28", ids);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte 4"), std::string::npos) << e.what();
  }
}

TEST(SequenceEncoder, LayoutAndTokenTypes) {
  SequenceEncoder enc(uncased(), 128);
  EncodedExample e;
  enc.encode("a b", std::string_view("c"), e);
  EXPECT_EQ(e.input_ids, (std::vector<std::int32_t>{101, 1037, 1038, 102, 1039, 102}));
  EXPECT_EQ(e.token_type_ids, (std::vector<std::int8_t>{0, 0, 0, 0, 1, 1}));
  enc.encode("a", std::string_view(""), e);  // empty second text: HuggingFace's [SEP] [SEP]
  EXPECT_EQ(e.input_ids, (std::vector<std::int32_t>{101, 1037, 102, 102}));
  enc.encode("a", std::nullopt, e);
  EXPECT_EQ(e.input_ids, (std::vector<std::int32_t>{101, 1037, 102}));
}

TEST(SequenceEncoder, TruncatesTheLongerTextAndBOnTies) {
  SequenceEncoder enc(uncased(), 8);  // room for 5 text tokens
  EncodedExample e;
  enc.encode("a b c d e f", std::string_view("x"), e);  // 6 + 1 -> 4 + 1
  EXPECT_TRUE(e.truncated);
  EXPECT_EQ(e.input_ids, (std::vector<std::int32_t>{101, 1037, 1038, 1039, 1040, 102, 1060, 102}));
  enc.encode("a b c", std::string_view("x y z"), e);  // 3 + 3 is a tie: B loses its last token
  EXPECT_EQ(e.input_ids, (std::vector<std::int32_t>{101, 1037, 1038, 1039, 102, 1060, 1061, 102}));
  enc.encode("a b c d e f g h", std::nullopt, e);
  EXPECT_EQ(e.input_ids.size(), 8u);
  EXPECT_EQ(e.input_ids.back(), 102);
}

TEST(SequenceEncoder, RejectsTooSmallMaxLength) {
  EXPECT_THROW(SequenceEncoder(uncased(), 2), UsageError);
}

}  // namespace
}  // namespace pkd::text
