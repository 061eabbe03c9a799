// `pkd tokenize` -> HDF5 shards -> read back == HuggingFace `tokenizers` ids for every dev
// example we have (tests/data/tokenize/*.jsonl.gz) and the tricky Unicode strings. Exact match.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/shard_reading.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

void expect_matches_golden(const std::string& split_dir, const std::string& golden) {
  auto examples = read_split_examples(split_dir);
  auto lines = read_gz_lines(source_dir() + "/tests/data/tokenize/" + golden);
  ASSERT_EQ(examples.size(), lines.size()) << split_dir;
  int mismatches = 0;
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line);
    std::int64_t row = j.at("row");
    auto ids = j.at("input_ids").get<std::vector<std::int32_t>>();
    auto types = j.at("token_type_ids").get<std::vector<std::int32_t>>();
    ASSERT_TRUE(examples.count(row)) << "row " << row << " missing from " << split_dir;
    const ReadExample& e = examples.at(row);
    if ((e.input_ids != ids || e.token_type_ids != types) && ++mismatches <= 5)
      ADD_FAILURE() << golden << " row " << row << ": ids differ from HuggingFace";
  }
  EXPECT_EQ(mismatches, 0) << golden;
}

class GoldenTask : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTask, DevSplitMatchesHuggingFace) {
  const std::string task = GetParam();
  TempDir out;
  // A small shard size spreads the split over several shards: order and offsets are tested too.
  auto r = run_pkd("tokenize --task " + task + " --data-dir " + source_dir() + "/data/glue/" +
                   task + " --splits dev --vocab " + source_dir() + "/data/vocab/vocab.txt --out " +
                   out.path() + " --shard-size 300");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_matches_golden(out / "dev", task + "-dev.jsonl.gz");
}

INSTANTIATE_TEST_SUITE_P(AllDevGoldens, GoldenTask,
                         ::testing::Values("CoLA", "SST-2", "MRPC", "STS-B", "QNLI", "RTE"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n.erase(std::remove(n.begin(), n.end(), '-'), n.end());
                           return n;
                         });

TEST(Goldens, TrickyUnicodeAsCustomTask) {
  TempDir out;
  auto r = run_pkd("tokenize --task custom --data-dir " + source_dir() + "/tests/data/tokenize" +
                   " --text-a 0 --text-b 1 --unlabeled-splits tricky-visible --labels x" +
                   " --allow-empty-text --vocab " + source_dir() + "/data/vocab/vocab.txt --out " +
                   out.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_matches_golden(out / "tricky-visible", "tricky-visible-all.jsonl.gz");
}

}  // namespace
}  // namespace pkd::test
