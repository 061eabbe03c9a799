// Every real GLUE file we have (../shared/data/glue: train, dev and test splits) tokenizes
// without error, with the row counts of the official files.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "shards/manifest.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

struct Expected {
  const char* task;
  std::map<std::string, std::int64_t> rows;
};

TEST(AllGlue, EveryRealFileTokenizes) {
  const std::string glue = shared_glue_dir();
  if (glue.empty())
    GTEST_SKIP() << "no ../shared/data/glue beside the repository (set PKD_GLUE_DIR)";
  const std::vector<Expected> expected = {
      {"SST-2", {{"train", 67349}, {"dev", 872}, {"test", 1821}}},
      {"MRPC", {{"train", 3668}, {"dev", 408}, {"test", 1725}}},
      {"RTE", {{"train", 2490}, {"dev", 277}, {"test", 3000}}},
      {"CoLA", {{"train", 8551}, {"dev", 1043}, {"test", 1063}}},
      {"STS-B", {{"train", 5749}, {"dev", 1500}, {"test", 1379}}},
      {"QNLI", {{"dev", 5463}, {"test", 5463}}},
  };
  TempDir out;
  for (const auto& e : expected) {
    auto r =
        run_pkd(std::string("tokenize --task ") + e.task + " --data-dir " + glue + "/" + e.task +
                " --vocab " + source_dir() + "/data/vocab/vocab.txt --out " + out / e.task);
    ASSERT_EQ(r.exit_code, 0) << e.task << ":\n" << r.output;
    for (const auto& [split, rows] : e.rows) {
      shards::TokenManifest m = shards::read_manifest(out / (std::string(e.task) + "/" + split));
      EXPECT_EQ(m.num_examples, rows) << e.task << " " << split;
      EXPECT_TRUE(m.skipped_lines.empty()) << e.task << " " << split;
    }
  }
}

}  // namespace
}  // namespace pkd::test
