// A run whose loss becomes NaN stops with a message instead of training on and exporting
// non-finite weights (TrainingRun::stop_if_diverged): through the real binary, with a learning
// rate far too high for float32 (1e30: the weights overflow within a few steps).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

TEST(Diverged, ARunWhoseLossIsNanStopsWithAMessageAndExportsNothing) {
  TempDir dir;
  const std::string train = tokenize_sst2_head(dir.path(), 320);
  auto finetune = [&](const std::string& name, const std::string& extra) {
    return run_pkd("finetune --init random --train " + train + " --output-dir " + (dir / name) +
                   " --hidden-size 32 --num-hidden-layers 1" +
                   " --num-attention-heads 2 --intermediate-size 64 --intra-op-threads 1" +
                   " --learning-rate 1e30 " + extra);
  };
  // Caught at a progress line (10 steps an epoch, one line a step)...
  auto r = finetune("logged", "--epochs 1 --log-every 1");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("training diverged: the mean training loss since the last progress "
                          "line is NaN"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("lower optimizer.learning_rate"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "logged/model"));
  // ...and at an epoch's end, before the epoch is evaluated or exported, when no progress line
  // came first.
  r = finetune("epoch", "--epochs 2 --log-every 50");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("training diverged: the mean training loss of epoch 1 is NaN (by step "
                          "10)"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "epoch/model"));
  // A sane learning rate on the same data trains to the end.
  r = run_pkd("finetune --init random --train " + train + " --output-dir " + (dir / "sane") +
              " --hidden-size 32 --num-hidden-layers 1 --num-attention-heads 2"
              " --intermediate-size 64 --intra-op-threads 1 --learning-rate 1e-3 --epochs 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "sane/model/model.safetensors"));
}

}  // namespace
}  // namespace pkd::test
