// `pkd sweep` through the real binary, without Slurm: the paper's sweep file plans and validates
// every run, the dry run writes nothing, and bad grids are refused before any submission.
// (Submitting to a real Slurm: tests/slurm/sweep_e2e.sh.)
#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"

namespace pkd::test {
namespace {

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Runs `pkd sweep` on the paper's sweep file from the repository root, as the docs show (the
// file's relative paths are relative to the working directory).
CommandResult sweep(const TempDir& tmp, const std::string& extra) {
  return run("cd " + source_dir() + " && " + pkd_binary() +
             " sweep --config configs/glue/sweep.toml --set sweep.work_dir=" + (tmp / "work") +
             " " + extra);
}

TEST(SweepCli, PaperSweepDryRunPlansEveryTaskAndWritesNothing) {
  TempDir tmp;
  auto r = sweep(tmp, "--dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count(r.output, "=$(sbatch --parsable"), 9 * 4 + 1);  // 4 stages x 9 tasks + report
  EXPECT_EQ(count(r.output, "--array=0-110%32"), 9);  // 108 PKD runs + 3 baselines per task
  EXPECT_EQ(count(r.output, "students/MNLI/pkd-T20-a0.7-b1000-lr5e-5"), 1);
  EXPECT_EQ(count(r.output, "--kill-on-invalid-dep=yes"), 9 * 3 + 1);
  EXPECT_NE(r.output.find("\"--dependency=afterok:$cache_RTE\""), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp / "work"));
}

TEST(SweepCli, BadRunsAreRefusedBeforeSubmission) {
  TempDir tmp;
  auto typo = sweep(tmp, "--set 'sweep.grid=[\"distill.loss.betta=1,2\"]' --dry-run");
  EXPECT_NE(typo.exit_code, 0);
  EXPECT_NE(typo.output.find("unknown config key 'distill.loss.betta' (did you mean 'beta'?)"),
            std::string::npos)
      << typo.output;
  EXPECT_NE(typo.output.find("sweep job distill:CoLA run 0"), std::string::npos) << typo.output;
  auto range = sweep(tmp, "--set 'sweep.baseline=[\"optimizer.learning_rate=-1\"]'");
  EXPECT_NE(range.exit_code, 0);
  EXPECT_NE(range.output.find("optimizer.learning_rate must be positive"), std::string::npos)
      << range.output;
  auto task = sweep(tmp, "--set 'sweep.tasks=[\"SST2\"]'");
  EXPECT_NE(task.output.find("unknown GLUE task 'SST2'"), std::string::npos) << task.output;
  auto missing = run("cd " + tmp.path() + " && " + pkd_binary() + " sweep --config " +
                     source_dir() + "/configs/glue/sweep.toml --dry-run");
  EXPECT_NE(missing.output.find("sweep.configs 'configs/glue' does not exist (relative paths are "
                                "relative to the working directory"),
            std::string::npos)
      << missing.output;
  auto key = sweep(tmp, "--set sweep.slurm.distill.gpus=1");
  EXPECT_NE(key.output.find("unknown config key"), std::string::npos) << key.output;
  EXPECT_FALSE(std::filesystem::exists(tmp / "work"));
}

}  // namespace
}  // namespace pkd::test
