#include <gtest/gtest.h>

#include "core/error.h"
#include "support/test_support.h"
#include "text/vocab.h"

namespace pkd::text {
namespace {

void expect_error(const std::string& content, const std::string& fragment) {
  test::TempDir dir;
  test::write_text(dir / "vocab.txt", content);
  try {
    Vocab::load(dir / "vocab.txt");
    FAIL() << "expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Vocab, LoadsTheRealVocabulary) {
  Vocab v = Vocab::load(test::source_dir() + "/data/vocab/vocab.txt");
  EXPECT_EQ(v.size(), 30522);
  EXPECT_EQ(v.pad_id(), 0);
  EXPECT_EQ(v.unk_id(), 100);
  EXPECT_EQ(v.cls_id(), 101);
  EXPECT_EQ(v.sep_id(), 102);
  EXPECT_EQ(v.find("the"), 1996);
  EXPECT_EQ(v.token(30521), "##～");
  EXPECT_EQ(v.sha256(), "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3");
}

TEST(Vocab, BadFilesGiveClearErrors) {
  expect_error("", "is empty");
  expect_error("[PAD]\r\n[UNK]\r\n", "CRLF");
  expect_error("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[UNK]\n",
               "line 5: token \"[UNK]\" already appears on line 2");
  expect_error("[PAD]\n[CLS]\n[SEP]\n", "has no [UNK] token");
  expect_error("[PAD]\n\n[UNK]\n", "line 2 is empty");
  expect_error("[PAD]\n\xff\n", "not valid UTF-8");
  EXPECT_THROW(Vocab::load("/nonexistent/vocab.txt"), Error);
}

}  // namespace
}  // namespace pkd::text
