// `pkd sweep` through the real binary, without Slurm: the paper's sweep file plans and validates
// every run (FT, KD, PKD-Skip and PKD-Last, 6 and 3 layers), the dry run writes nothing, and bad
// grids are refused before any submission.
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
  // Per task 2 depths x (216 PKD + 27 KD + 3 FT) = 492 runs: the rows of the paper's Table 1.
  EXPECT_EQ(count(r.output, "--array=0-491%32"), 9);
  EXPECT_EQ(count(r.output, ": array of 492 runs;"), 9);
  EXPECT_EQ(count(r.output, "students/MNLI/pkd-k3-maplast-T20-a0.7-b1000-lr5e-5\n"), 1);
  EXPECT_EQ(count(r.output, "students/MNLI/pkd-k6-mapskip-T10-a0.5-b100-lr2e-5\n"), 1);
  EXPECT_EQ(count(r.output, "\t--output-dir\tstudents/QQP/kd-"), 54);
  EXPECT_EQ(count(r.output, "\t--output-dir\tstudents/QQP/ft-"), 6);
  // KD runs end with beta = 0, FT runs with alpha = beta = 0 (after their axes: they win).
  EXPECT_EQ(count(r.output, "--set\tdistill.loss.beta=0\t--output-dir\tstudents/RTE/kd-"), 54);
  EXPECT_EQ(count(r.output,
                  "--set\tdistill.loss.alpha=0\t--set\tdistill.loss.beta=0\t--output-dir\t"
                  "students/RTE/ft-"),
            6);
  // Every run starts from the pretrained BERT (sweep.teacher_init), on the array's command line;
  // the teachers are fine-tuned from it.
  const std::string bert =
      std::filesystem::canonical(source_dir()).string() + "/models/bert-base-uncased)";
  EXPECT_EQ(count(r.output, "student_init"), 9);
  EXPECT_EQ(count(r.output, " --set distill.student_init=" + bert), 9);
  EXPECT_EQ(count(r.output, " --set finetune.init=" + bert), 9);
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
  auto big = sweep(tmp, "--set sweep.slurm.max_array_size=400 --dry-run");
  EXPECT_NE(big.exit_code, 0);
  EXPECT_NE(big.output.find("492 distillation runs per task (PKD 432 + KD 54 + FT 6)"),
            std::string::npos)
      << big.output;
  auto forced = sweep(tmp, "--set 'sweep.kd=[\"distill.loss.beta=10\"]' --dry-run");
  EXPECT_NE(forced.output.find("sweep.kd: distill.loss.beta is 0 in every vanilla KD run"),
            std::string::npos)
      << forced.output;
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
