#include "sweep/sweep_config.h"

#include <algorithm>

#include "core/error.h"
#include "core/strings.h"
#include "sweep/runs.h"

namespace pkd::sweep {
namespace {

const std::vector<std::string> kStages = {"tokenize", "teacher", "cache", "distill", "report"};
const std::vector<std::string> kTasks = {"CoLA", "SST-2", "MRPC", "STS-B", "QQP",
                                         "MNLI", "QNLI",  "RTE",  "WNLI"};

}  // namespace

void StageResources::validate(const std::string& where) const {
  if (nodes < 1) usage_fail(where, ".nodes must be at least 1, got ", nodes);
  if (ntasks_per_node < 1)
    usage_fail(where, ".ntasks_per_node must be at least 1, got ", ntasks_per_node);
  // The job scripts pass cpus_per_task as runtime.intra_op_threads, which is at most 1024
  // (model/runtime.h): refused here, before submission, rather than in every job.
  if (cpus_per_task < 1 || cpus_per_task > 1024)
    usage_fail(where,
               ".cpus_per_task must be in 1..1024 (it becomes runtime.intra_op_threads), got ",
               cpus_per_task);
  if (gpus_per_node < 0) usage_fail(where, ".gpus_per_node must be >= 0, got ", gpus_per_node);
  if (time.empty() || time.find_first_not_of("0123456789:-") != std::string::npos)
    usage_fail(where, ".time must be a Slurm time limit like 04:00:00 or 1-00:00:00, got '", time,
               "'");
}

void SlurmConfig::validate() const {
  if (launcher != "srun" && launcher != "mpirun")
    usage_fail("sweep.slurm.launcher must be srun or mpirun, got '", launcher, "'");
  if (signal_seconds < 0)
    usage_fail("sweep.slurm.signal_seconds must be >= 0, got ", signal_seconds);
  if (max_parallel < 0) usage_fail("sweep.slurm.max_parallel must be >= 0, got ", max_parallel);
  if (max_array_size < 1)
    usage_fail("sweep.slurm.max_array_size must be at least 1, got ", max_array_size);
  tokenize.validate("sweep.slurm.tokenize");
  teacher.validate("sweep.slurm.teacher");
  cache.validate("sweep.slurm.cache");
  distill.validate("sweep.slurm.distill");
  report.validate("sweep.slurm.report");
}

bool SweepConfig::has_stage(const std::string& stage) const {
  return std::find(stages.begin(), stages.end(), stage) != stages.end();
}

void SweepConfig::validate() const {
  if (name.empty() || name.find_first_of(" \t/") != std::string::npos)
    usage_fail("sweep.name must be a non-empty word (it prefixes job names), got '", name, "'");
  if (tasks.empty()) usage_fail("sweep.tasks is empty: name GLUE tasks, e.g. [\"SST-2\"]");
  for (const auto& t : tasks)
    if (std::find(kTasks.begin(), kTasks.end(), t) == kTasks.end())
      usage_fail("sweep.tasks: unknown GLUE task '", t, "' (expected one of ", join(kTasks, ", "),
                 ")");
  if (work_dir.empty()) usage_fail("sweep.work_dir is required: where every stage writes");
  if (stages.empty()) usage_fail("sweep.stages is empty: nothing to submit");
  for (const auto& s : stages)
    if (std::find(kStages.begin(), kStages.end(), s) == kStages.end())
      usage_fail("sweep.stages: unknown stage '", s, "' (expected ", join(kStages, ", "), ")");
  slurm.validate();
  if (has_stage("distill")) {
    // One array per task; Slurm refuses indices >= MaxArraySize at submission, after the earlier
    // stages were queued, so the count is checked here, before anything is submitted.
    const DistillRuns runs = distill_runs(*this);
    const auto n = static_cast<std::int64_t>(runs.runs.size());
    if (n > slurm.max_array_size)
      usage_fail("sweep: ", n, " distillation runs per task (PKD ", runs.pkd, " + KD ", runs.kd,
                 " + FT ", runs.ft, ") do not fit in one Slurm array of at most ",
                 slurm.max_array_size,
                 " (sweep.slurm.max_array_size = the cluster's MaxArraySize, ",
                 "Slurm's default 1001): shrink sweep.grid, sweep.kd, sweep.baseline or ",
                 "sweep.common, or set max_array_size to your cluster's (scontrol show config | ",
                 "grep MaxArraySize)");
  }
}

}  // namespace pkd::sweep
