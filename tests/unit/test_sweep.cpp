// pkd sweep's planning: grid expansion, the jobs of a pipeline, their dependencies and sbatch
// options. (Real submissions to a real Slurm: tests/slurm/.)
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/strings.h"
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

SweepConfig two_tasks() {
  SweepConfig c;
  c.tasks = {"SST-2", "RTE"};
  c.work_dir = "/tmp/pkd-sweep-test";
  c.grid = {"distill.loss.temperature=5,10", "distill.loss.beta=10,100,500"};
  c.baseline = {"optimizer.learning_rate=1e-5,2e-5"};
  return c;
}

TEST(Grid, CrossProductFirstAxisSlowestWithUniqueNames) {
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

TEST(Grid, MalformedAxesAreRefused) {
  EXPECT_THROW(expand_grid({"distill.loss.beta"}, "pkd"), UsageError);
  EXPECT_THROW(expand_grid({"=1,2"}, "pkd"), UsageError);
  EXPECT_THROW(expand_grid({"distill.loss.beta=1,,2"}, "pkd"), UsageError);
}

TEST(Plan, PipelineOrderAndDependencies) {
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

TEST(Plan, SbatchOptionsFollowResourcesAndDependencies) {
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

TEST(Plan, StagesSubsetAndExistingTeachers) {
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

TEST(Plan, InvalidSweepsAreRefused) {
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

}  // namespace
}  // namespace pkd::sweep
