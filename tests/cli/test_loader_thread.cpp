// The trainer's loader thread (train/step_batches.h), through the real binary on real SST-2 rows
// and HDF5 shards: batches made 0, 1 or 4 steps ahead train bitwise the same run, across windows
// of shards, epochs, gradient accumulation, evaluations (which pause the thread: HDF5 is not
// thread-safe) and a preempted and resumed run; a shard found damaged by the loader thread ends
// the run with the shard's name, as in the training thread.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/strings.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

std::string teacher() {
  return source_dir() + "/tests/data/bert/random-4L-64H";
}

// 200 SST-2 rows in token shards of 40 and the teacher's cached features.
class LoaderThread : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
    std::size_t cut = 0;
    for (int lines = 0; lines < 201; ++lines) cut = train.find('\n', cut) + 1;
    write_text(dir_ / "data/train.tsv", train.substr(0, cut));
    write_text(dir_ / "data/dev.tsv", train.substr(0, cut));
    auto r =
        run_pkd("tokenize --task SST-2 --shard-size 40 --data-dir " + (dir_ / "data") +
                " --vocab " + source_dir() + "/data/vocab/vocab.txt --out " + (dir_ / "tokens"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_pkd("cache-teacher --model " + teacher() + " --tokens " + (dir_ / "tokens/train") +
                " --out " + (dir_ / "features") + " --layers 0,2,4");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // Windows of 2 shards (3 per epoch), 2 epochs of 13 steps, 2 micro-batches per step, a dev
  // evaluation every 5 steps.
  std::string distill(const std::string& out, const std::string& extra) {
    return "distill --train " + (dir_ / "tokens/train") + " --dev " + (dir_ / "tokens/dev") +
           " --features " + (dir_ / "features") + " --teacher " + teacher() +
           " --student-layers 2 --alpha 0.5 --beta 10 --batch-size 16 --epochs 2"
           " --gradient-accumulation-steps 2 --window-examples 80 --eval-every 5"
           " --intra-op-threads 1 --log-level warn --output-dir " +
           (dir_ / out) + " " + extra;
  }
  // metrics.jsonl without its timings.
  std::string history(const std::string& out) {
    std::string lines;
    for (const auto& line : split(read_file(dir_ / (out + "/metrics.jsonl")), '\n')) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(std::string(line));
      j.erase("examples_per_s");
      j.erase("step_seconds");
      lines += j.dump() + "\n";
    }
    return lines;
  }
  std::string weights(const std::string& out) {
    return read_file(dir_ / (out + "/model/model.safetensors"));
  }
  TempDir dir_;
};

TEST_F(LoaderThread, AheadOrInlineTrainsBitwiseTheSameRun) {
  for (const char* ahead : {"0", "1", "4"}) {
    auto r = run_pkd(distill(cat("ahead", ahead), cat("--prefetch-steps ", ahead)));
    ASSERT_EQ(r.exit_code, 0) << ahead << r.output;
  }
  const std::string inline_history = history("ahead0");
  EXPECT_NE(inline_history.find("\"step\":25"), std::string::npos) << inline_history;
  for (const char* out : {"ahead1", "ahead4"}) {
    EXPECT_EQ(history(out), inline_history) << out;
    EXPECT_EQ(weights(out), weights("ahead0")) << out;
  }
  // Preempted in the second window of the first epoch with 4 steps made ahead, resumed:
  // the same run.
  auto r = run_pkd(distill("resumed", "--prefetch-steps 4 --stop-after-steps 7"));
  ASSERT_EQ(r.exit_code, 75) << r.output;  // preempted: requeue me
  r = run_pkd(distill("resumed", "--prefetch-steps 4 --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(history("resumed"), inline_history);
  EXPECT_EQ(weights("resumed"), weights("ahead0"));
}

TEST_F(LoaderThread, DamagedShardFoundAheadEndsTheRunNamingIt) {
  // The last feature shard's bytes change after the run's start checks: the loader thread finds
  // it when it reads that shard's window.
  const std::string shard = dir_ / "features/shard-00004.h5";
  const std::string bytes = read_file(shard);
  std::ofstream(shard, std::ios::binary | std::ios::trunc)
      << bytes.substr(0, bytes.size() / 2) << static_cast<char>(bytes[bytes.size() / 2] ^ 0x20)
      << bytes.substr(bytes.size() / 2 + 1);
  for (const char* ahead : {"0", "4"}) {
    auto r = run_pkd(distill(cat("damaged", ahead), cat("--prefetch-steps ", ahead)));
    EXPECT_EQ(r.exit_code, 1) << ahead << r.output;
    EXPECT_NE(r.output.find("shard-00004.h5' has sha256 "), std::string::npos) << r.output;
  }
}

TEST_F(LoaderThread, OutOfRangeIsRefused) {
  auto r = run_pkd(distill("bad", "--prefetch-steps 17"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("distill.prefetch_steps must be in 0..16, got 17"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace pkd::test
