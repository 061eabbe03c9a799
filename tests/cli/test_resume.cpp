// Re-runs: complete output is skipped, an interrupted run resumes (only missing shards are
// written), other settings are refused unless --overwrite.
#include <gtest/gtest.h>

#include "cli/shard_reading.h"
#include "core/fs.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

class Rerun : public ::testing::Test {
 protected:
  CommandResult tokenize(const std::string& extra = "") {
    return run_pkd("tokenize --task RTE --data-dir " + source_dir() + "/data/glue/RTE --vocab " +
                   source_dir() + "/data/vocab/vocab.txt --out " + out_.path() +
                   " --shard-size 50 " + extra);
  }
  TempDir out_;
};

TEST_F(Rerun, CompleteOutputIsUpToDate) {
  ASSERT_EQ(tokenize().exit_code, 0);
  auto r = tokenize();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("up to date"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("wrote 0 shards"), std::string::npos) << r.output;
}

TEST_F(Rerun, InterruptedRunResumesWithIdenticalContent) {
  ASSERT_EQ(tokenize().exit_code, 0);
  auto before = read_split_examples(out_ / "dev");
  // An interruption: the manifest was never written, one shard is missing, a temp file is left.
  remove_tree(out_ / "dev/manifest.json");
  remove_tree(out_ / "dev/shard-00002.h5");
  write_text(out_ / "dev/shard-00003.h5.tmp.999.0", "half a file");
  auto r = tokenize();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote 1 shards (5 complete shards reused)"), std::string::npos)
      << r.output;
  EXPECT_FALSE(file_exists(out_ / "dev/shard-00003.h5.tmp.999.0"));
  auto after = read_split_examples(out_ / "dev");
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [row, e] : before) EXPECT_EQ(after.at(row).input_ids, e.input_ids) << row;
}

TEST_F(Rerun, OtherSettingsAreRefusedUnlessOverwrite) {
  ASSERT_EQ(tokenize().exit_code, 0);
  auto r = tokenize("--max-seq-length 64");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("max_seq_length: 128 -> 64"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--overwrite"), std::string::npos) << r.output;
  r = tokenize("--max-seq-length 64 --overwrite");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& [row, e] : read_split_examples(out_ / "dev")) EXPECT_LE(e.input_ids.size(), 64u);
  // A different vocabulary is refused too.
  write_text(out_ / "v/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  r = run_pkd("tokenize --task RTE --data-dir " + source_dir() + "/data/glue/RTE --vocab " +
              (out_ / "v/vocab.txt") + " --out " + out_.path() + " --max-seq-length 64");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("another vocabulary"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pkd::test
