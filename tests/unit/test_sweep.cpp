// pkd sweep's planning: grid expansion, the groups of runs of the paper's table (PKD, KD, FT,
// crossed with the student's depth), the jobs of a pipeline, their dependencies and sbatch
// options. (Real submissions to a real Slurm: tests/slurm/.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "config/document.h"
#include "core/error.h"
#include "core/strings.h"
#include "support/test_support.h"
#include "sweep/plan.h"

namespace pkd::sweep {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const Job& find(const std::vector<Job>& jobs, const std::string& key) {
  for (const auto& j : jobs)
    if (j.key == key) return j;
  throw std::runtime_error("no job " + key);
}

// The message of the UsageError that `f` throws ("" when it throws none).
template <class F>
std::string usage_error(F f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

// configs/glue/sweep.toml as `pkd sweep` reads it.
SweepConfig default_sweep() {
  SweepConfig c;
  config::Document::from_file(test::source_dir() + "/configs/glue/sweep.toml").read("sweep", c);
  return c;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& v, const std::string& p) {
  std::vector<std::string> out;
  for (const auto& s : v)
    if (starts_with(s, p)) out.push_back(s);
  return out;
}

SweepConfig two_tasks() {
  SweepConfig c;
  c.tasks = {"SST-2", "RTE"};
  c.work_dir = "/tmp/pkd-sweep-test";
  c.grid = {"distill.loss.temperature=5,10", "distill.loss.beta=10,100,500"};
  c.baseline = {"optimizer.learning_rate=1e-5,2e-5"};
  return c;
}

TEST(SweepGrid, CrossProductFirstAxisSlowestWithUniqueNames) {
  auto points =
      expand_grid({"distill.loss.temperature=5,10,20", "distill.loss.alpha=0.2,0.5,0.7",
                   "distill.loss.beta=10,100,500,1000", "optimizer.learning_rate=1e-5,2e-5,5e-5"},
                  "pkd");
  ASSERT_EQ(points.size(), 108u);  // the paper's grid
  EXPECT_EQ(points[0].name, "pkd-T5-a0.2-b10-lr1e-5");
  EXPECT_EQ(points[1].name, "pkd-T5-a0.2-b10-lr2e-5");
  EXPECT_EQ(points.back().name, "pkd-T20-a0.7-b1000-lr5e-5");
  EXPECT_EQ(points.back().sets,
            (std::vector<std::string>{"distill.loss.temperature=20", "distill.loss.alpha=0.7",
                                      "distill.loss.beta=1000", "optimizer.learning_rate=5e-5"}));
  std::set<std::string> names;
  for (const auto& p : points) names.insert(p.name);
  EXPECT_EQ(names.size(), points.size());
  EXPECT_EQ(expand_grid({}, "pkd").size(), 1u);  // no axes: one run with the config's values
}

// The objectives beyond [CLS] are axes like any key, with short names.
TEST(SweepGrid, TokenLevelWeightsAreAxes) {
  auto points = expand_grid({"distill.student_hidden_size=312", "distill.loss.hidden_weight=0,1",
                             "distill.loss.attention_weight=1", "distill.loss.attention_loss=kl"},
                            "pkd");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[1].name, "pkd-w312-hid1-att1-attlkl");
  EXPECT_EQ(points[1].sets[1], "distill.loss.hidden_weight=1");
}

TEST(SweepGrid, MalformedAxesAreRefused) {
  EXPECT_THROW(expand_grid({"distill.loss.beta"}, "pkd"), UsageError);
  EXPECT_THROW(expand_grid({"=1,2"}, "pkd"), UsageError);
  EXPECT_THROW(expand_grid({"distill.loss.beta=1,,2"}, "pkd"), UsageError);
}

TEST(SweepPlan, PipelineOrderAndDependencies) {
  auto jobs = plan_sweep(two_tasks(), "/opt/pkd");
  std::vector<std::string> keys;
  for (const auto& j : jobs) keys.push_back(j.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"tokenize:SST-2", "teacher:SST-2", "cache:SST-2",
                                            "distill:SST-2", "tokenize:RTE", "teacher:RTE",
                                            "cache:RTE", "distill:RTE", "report"}));
  EXPECT_EQ(find(jobs, "teacher:RTE").after_ok, (std::vector<std::string>{"tokenize:RTE"}));
  EXPECT_EQ(find(jobs, "cache:RTE").after_ok,
            (std::vector<std::string>{"tokenize:RTE", "teacher:RTE"}));
  EXPECT_EQ(find(jobs, "distill:RTE").after_ok, (std::vector<std::string>{"cache:RTE"}));
  const Job& report = find(jobs, "report");
  EXPECT_TRUE(report.after_ok.empty());  // reports whatever finished
  EXPECT_EQ(report.after_any.size(), 4u);
  const Job& distill = find(jobs, "distill:SST-2");
  ASSERT_EQ(distill.grid_lines.size(), 6u + 2u);  // 2 x 3 PKD runs + 2 baselines
  EXPECT_NE(distill.grid_lines[0].find("--output-dir\tstudents/SST-2/pkd-T5-b10"),
            std::string::npos);
  EXPECT_NE(distill.grid_lines[6].find("distill.loss.alpha=0\t--set\tdistill.loss.beta=0"),
            std::string::npos);
  EXPECT_TRUE(contains(distill.sbatch, "--array=0-7"));
  EXPECT_EQ(distill.script, "/opt/pkd/jobs/slurm/distill.sbatch");
  EXPECT_EQ(distill.args[0].front(), '/');  // absolute: jobs run in the work directory
  EXPECT_TRUE(ends_with(distill.args[0], "configs/glue/SST-2/student.toml")) << distill.args[0];
}

TEST(SweepPlan, SbatchOptionsFollowResourcesAndDependencies) {
  SweepConfig c = two_tasks();
  c.slurm.distill.gpus_per_node = 2;
  c.slurm.distill.ntasks_per_node = 2;
  c.slurm.partition = "gpu";
  c.slurm.max_parallel = 4;
  auto jobs = plan_sweep(c, "/opt/pkd");
  const Job& distill = find(jobs, "distill:RTE");
  EXPECT_TRUE(contains(distill.sbatch, "--gpus-per-node=2"));
  EXPECT_TRUE(contains(distill.sbatch, "--partition=gpu"));
  EXPECT_TRUE(contains(distill.sbatch, "--array=0-7%4"));
  EXPECT_TRUE(contains(distill.sbatch, "--signal=B:USR1@300"));
  EXPECT_FALSE(contains(find(jobs, "tokenize:RTE").sbatch, "--gpus-per-node=0"));
  auto argv = sbatch_argv(distill, {"11"}, {});
  EXPECT_TRUE(contains(argv, "--dependency=afterok:11"));
  EXPECT_TRUE(contains(argv, "--kill-on-invalid-dep=yes"));
  EXPECT_EQ(argv[argv.size() - distill.args.size() - 1], distill.script);
  auto first = sbatch_argv(find(jobs, "tokenize:RTE"), {}, {});
  EXPECT_FALSE(contains(first, "--kill-on-invalid-dep=yes"));
  EXPECT_EQ(
      sbatch_argv(find(jobs, "report"), {}, {"1", "2"})[2 + find(jobs, "report").sbatch.size()],
      "--dependency=afterany:1:2");
}

TEST(SweepPlan, StagesSubsetAndExistingTeachers) {
  SweepConfig c = two_tasks();
  c.stages = {"cache", "distill"};
  c.teacher = "/models/{task}-teacher";
  auto jobs = plan_sweep(c, "/opt/pkd");
  ASSERT_EQ(jobs.size(), 4u);
  const Job& cache = find(jobs, "cache:SST-2");
  EXPECT_TRUE(cache.after_ok.empty());
  EXPECT_TRUE(contains(cache.args, "cache_teacher.model=/models/SST-2-teacher"));
  EXPECT_TRUE(contains(find(jobs, "distill:RTE").args, "distill.teacher=/models/RTE-teacher"));
  EXPECT_EQ(find(jobs, "distill:RTE").after_ok, (std::vector<std::string>{"cache:RTE"}));
}

TEST(SweepPlan, InvalidSweepsAreRefused) {
  SweepConfig c = two_tasks();
  c.tasks = {"SST2"};
  EXPECT_THROW(plan_sweep(c, "/opt/pkd"), UsageError);
  c = two_tasks();
  c.stages = {"distil"};
  EXPECT_THROW(plan_sweep(c, "/opt/pkd"), UsageError);
  c = two_tasks();
  c.slurm.launcher = "mpiexec";
  EXPECT_THROW(plan_sweep(c, "/opt/pkd"), UsageError);
  c = two_tasks();
  c.slurm.teacher.time = "two hours";
  EXPECT_THROW(plan_sweep(c, "/opt/pkd"), UsageError);
  c = two_tasks();
  c.work_dir.clear();
  EXPECT_THROW(plan_sweep(c, "/opt/pkd"), UsageError);
}

TEST(SweepRuns, DefaultSweepFillsEveryRowOfThePapersTable) {
  const DistillRuns r = distill_runs(default_sweep());
  // BERT6 and BERT3 x (PKD: skip/last x 3 T x 3 alpha x 4 beta x 3 lr; KD: 3 T x 3 alpha x 3 lr;
  // FT: 3 lr).
  EXPECT_EQ(r.pkd, 432);
  EXPECT_EQ(r.kd, 54);
  EXPECT_EQ(r.ft, 6);
  ASSERT_EQ(r.runs.size(), 492u);
  std::set<std::string> names;
  for (const auto& p : r.runs) names.insert(p.name);
  EXPECT_EQ(names.size(), r.runs.size());
  for (const char* n :
       {"pkd-k6-mapskip-T10-a0.5-b100-lr2e-5", "pkd-k3-maplast-T20-a0.7-b1000-lr5e-5",
        "kd-k3-T10-a0.5-lr2e-5", "kd-k6-T5-a0.2-lr1e-5", "ft-k6-lr2e-5", "ft-k3-lr5e-5"})
    EXPECT_EQ(names.count(n), 1u) << n;
  EXPECT_EQ(r.runs.front().name, "pkd-k6-mapskip-T5-a0.2-b10-lr1e-5");  // PKD, then KD, then FT
  EXPECT_EQ(r.runs.back().name, "ft-k3-lr5e-5");
  for (const auto& p : r.runs) {
    EXPECT_EQ(with_prefix(p.sets, "distill.student_layers=").size(), 1u) << p.name;
    const auto alpha = with_prefix(p.sets, "distill.loss.alpha=");
    const auto beta = with_prefix(p.sets, "distill.loss.beta=");
    ASSERT_EQ(beta.size(), 1u) << p.name;
    if (starts_with(p.name, "kd-")) {
      EXPECT_EQ(p.sets.back(), "distill.loss.beta=0") << p.name;  // last: it wins
      EXPECT_EQ(alpha.size(), 1u) << p.name;
      EXPECT_NE(alpha[0], "distill.loss.alpha=0") << p.name;
    } else if (starts_with(p.name, "ft-")) {
      EXPECT_EQ(alpha, (std::vector<std::string>{"distill.loss.alpha=0"})) << p.name;
      EXPECT_EQ(beta[0], "distill.loss.beta=0") << p.name;
    } else {
      EXPECT_NE(beta[0], "distill.loss.beta=0") << p.name;
      EXPECT_EQ(with_prefix(p.sets, "distill.loss.layer_map=").size(), 1u) << p.name;
    }
  }
}

TEST(SweepPlan, DefaultSweepStartsEveryStudentFromThePretrainedModel) {
  SweepConfig c = default_sweep();
  c.work_dir = "/tmp/pkd-sweep-test";
  const auto jobs = plan_sweep(c, "/opt/pkd");
  const std::string bert = std::filesystem::absolute("models/bert-base-uncased").string();
  const Job& distill = find(jobs, "distill:MNLI");
  EXPECT_TRUE(contains(distill.sbatch, "--array=0-491%32"));
  // In the arguments of the array job: every element (FT, KD, PKD) runs with them.
  EXPECT_TRUE(contains(distill.args, "distill.student_init=" + bert));
  for (const auto& line : distill.grid_lines)
    ASSERT_EQ(line.find("student_init"), std::string::npos) << line;
  EXPECT_TRUE(contains(find(jobs, "teacher:MNLI").args, "finetune.init=" + bert));
}

TEST(SweepPlan, StudentInitResolution) {
  auto init_of = [](const SweepConfig& c) {
    return with_prefix(find(plan_sweep(c, "/opt/pkd"), "distill:RTE").args, "distill.student_init");
  };
  SweepConfig c = two_tasks();
  EXPECT_TRUE(init_of(c).empty());  // nothing known: the student configs' value
  c.teacher_init = "/models/bert";
  EXPECT_EQ(init_of(c), (std::vector<std::string>{"distill.student_init=/models/bert"}));
  c.student_init = "teacher";  // the warm start, explicitly
  EXPECT_EQ(init_of(c), (std::vector<std::string>{"distill.student_init=teacher"}));
  c = two_tasks();
  c.teacher = "/models/{task}-teacher";  // existing teachers, no teacher_init
  c.student_init = "/models/../models/bert-6";
  auto jobs = plan_sweep(c, "/opt/pkd");
  EXPECT_TRUE(contains(find(jobs, "distill:RTE").args, "distill.student_init=/models/bert-6"));
  EXPECT_TRUE(contains(find(jobs, "distill:RTE").args, "distill.teacher=/models/RTE-teacher"));
  c.set = {"distill.student_init=random"};  // sweep.set comes after the derived values: it wins
  jobs = plan_sweep(c, "/opt/pkd");
  EXPECT_EQ(find(jobs, "distill:RTE").args.back(), "distill.student_init=random");
}

TEST(SweepRuns, GroupsForceTheirLossWeightsAndRefuseConflicts) {
  SweepConfig c = two_tasks();
  c.common = {"distill.student_layers=6,3"};
  c.kd = {"distill.loss.temperature=5,10"};
  const DistillRuns r = distill_runs(c);
  EXPECT_EQ(r.pkd, 12);
  EXPECT_EQ(r.kd, 4);
  EXPECT_EQ(r.ft, 4);
  EXPECT_EQ(r.runs[12].name, "kd-k6-T5");
  EXPECT_EQ(r.runs[12].sets,
            (std::vector<std::string>{"distill.student_layers=6", "distill.loss.temperature=5",
                                      "distill.loss.beta=0"}));
  EXPECT_EQ(r.runs.back().sets,
            (std::vector<std::string>{"distill.student_layers=3", "optimizer.learning_rate=2e-5",
                                      "distill.loss.alpha=0", "distill.loss.beta=0"}));
  SweepConfig bad = c;
  bad.kd = {"distill.loss.beta=1,2"};
  EXPECT_NE(usage_error([&] { distill_runs(bad); }).find("distill.loss.beta is 0 in every"),
            std::string::npos);
  bad = c;
  bad.baseline = {"distill.loss.alpha=0.5"};
  EXPECT_THROW(distill_runs(bad), UsageError);
  bad = c;
  bad.common.push_back("distill.loss.beta=10");  // would undo KD's and FT's beta = 0
  EXPECT_THROW(distill_runs(bad), UsageError);
  bad.grid = {"distill.loss.temperature=5,10"};
  bad.kd.clear();
  bad.baseline.clear();  // no group forces beta: a common beta axis is fine
  EXPECT_EQ(distill_runs(bad).runs.size(), 4u);
  bad = c;
  bad.grid.push_back("distill.student_layers=4");  // already an axis of sweep.common
  EXPECT_NE(usage_error([&] { distill_runs(bad); }).find("is an axis twice"), std::string::npos);
  bad = c;
  bad.grid = {"distill.student_init=/a/b,_a_b"};  // both would be students/<TASK>/pkd-k6-..._a_b
  EXPECT_NE(usage_error([&] { distill_runs(bad); }).find("would both write"), std::string::npos);
}

TEST(SweepPlan, ArraySizeIsCheckedBeforeSubmission) {
  SweepConfig c = two_tasks();
  std::string rates;
  for (int i = 1; i <= 499; ++i) rates += (rates.empty() ? "" : ",") + std::to_string(i) + "e-6";
  c.common = {"distill.student_layers=6,3"};
  c.grid = {"optimizer.learning_rate=" + rates};  // 2 x (499 PKD + 2 FT) = 1002 runs
  const std::string message = usage_error([&] { plan_sweep(c, "/opt/pkd"); });
  EXPECT_NE(message.find("1002 distillation runs per task (PKD 998 + KD 0 + FT 4)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("max_array_size"), std::string::npos) << message;
  c.baseline = {"optimizer.learning_rate=2e-5"};  // 1000 runs: indices 0..999 fit
  EXPECT_TRUE(contains(find(plan_sweep(c, "/opt/pkd"), "distill:RTE").sbatch, "--array=0-999"));
  c.slurm.max_array_size = 999;  // a cluster with a smaller MaxArraySize
  EXPECT_THROW(plan_sweep(c, "/opt/pkd"), UsageError);
  c.stages = {"tokenize", "teacher"};  // no distillation array: nothing to check
  EXPECT_NO_THROW(plan_sweep(c, "/opt/pkd"));
}

}  // namespace
}  // namespace pkd::sweep
