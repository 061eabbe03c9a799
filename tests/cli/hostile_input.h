#pragma once
// The fixture of the hostile-input tests (test_hostile_input.cpp, test_hostile_models.cpp): a
// tokenized two-row split, the golden model's config.json with edits, and the expected failure.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace pkd::test {

class HostileInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokens_dir_ = new TempDir;
    write_text(*tokens_dir_ / "data/train.tsv", "sentence\tlabel\ngood .\t1\nbad .\t0\n");
    write_text(*tokens_dir_ / "data/dev.tsv", "sentence\tlabel\nfine .\t1\nawful .\t0\n");
    auto r = run_pkd("tokenize --task SST-2 --data-dir " + (*tokens_dir_ / "data") + " --vocab " +
                     vocab() + " --out " + (*tokens_dir_ / "tokens"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete tokens_dir_;
    tokens_dir_ = nullptr;
  }
  static std::string vocab() { return source_dir() + "/data/vocab/vocab.txt"; }
  static std::string model() { return source_dir() + "/tests/data/bert/random-4L-64H"; }
  static std::string dev_tokens() { return *tokens_dir_ / "tokens/dev"; }

  // `pkd eval` of a model directory (config.json, then the weights, are read before any example).
  CommandResult eval(const std::string& model_dir) {
    return run_pkd("eval --model " + model_dir + " --tokens " + dev_tokens());
  }
  // A new model directory holding the test model's config.json with each `from` replaced by its
  // `to`, and no weights.
  std::string model_dir(const std::vector<std::pair<std::string, std::string>>& edits = {}) {
    const std::string dir = dir_ / ("model" + std::to_string(models_++));
    std::ifstream in(model() + "/config.json");
    std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& [from, to] : edits) {
      const auto at = config.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      if (at != std::string::npos) config.replace(at, from.size(), to);
    }
    write_text(dir + "/config.json", config);
    return dir;
  }
  std::string model_dir(const std::string& from, const std::string& to) {
    return model_dir({{from, to}});
  }
  void expect_failure(const CommandResult& r, int code, const std::string& fragment) {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << "expected '" << fragment << "' in:\n"
                                                          << r.output;
  }
  CommandResult tokenize(const std::string& data_dir, const std::string& extra) {
    return run_pkd("tokenize --task SST-2 --data-dir " + data_dir + " --vocab " + vocab() +
                   " --out " + (dir_ / "out") + " " + extra);
  }

  inline static TempDir* tokens_dir_ = nullptr;
  TempDir dir_;
  int models_ = 0;
};

}  // namespace pkd::test
