#pragma once
// A sweep as a list of Slurm jobs: what each stage runs, with which resources and after which
// jobs. Pure: planning touches no file and calls no Slurm command, so `pkd sweep --dry-run`
// prints exactly what a real submission does.
#include <string>
#include <vector>

#include "sweep/runs.h"
#include "sweep/sweep_config.h"

namespace pkd::sweep {

struct Job {
  std::string key;                  // unique handle, e.g. "teacher:SST-2"; dependencies refer to it
  std::string stage;                // tokenize, teacher, cache, distill, report
  std::string task;                 // "" for the report
  std::string script;               // jobs/slurm/<stage>.sbatch
  std::vector<std::string> sbatch;  // options before the script (no dependency)
  std::vector<std::string> args;    // the script's arguments: CONFIG then pkd options
  std::vector<std::string> after_ok;    // keys of jobs that must succeed first
  std::vector<std::string> after_any;   // keys of jobs that must end first (any state)
  std::vector<std::string> grid_lines;  // array jobs: one line of pkd options per element
  std::string grid_file;                // where the array's lines are written
};

// The jobs of `config` in submission order (dependencies first). `root` is the pkd checkout
// (jobs/slurm/ and the binary); every path in the jobs is absolute. A task's distillation array
// runs distill_runs(config) (sweep/runs.h); every run gets `--set distill.student_init=` the
// resolved sweep.student_init / teacher_init, and distill.teacher when the teachers exist.
std::vector<Job> plan_sweep(const SweepConfig& config, const std::string& root);

// The shell-quoted sbatch command of `job`, with dependencies given as already-submitted ids
// (or, in a dry run, as $VARIABLES named after the keys).
std::string sbatch_command(const Job& job, const std::vector<std::string>& after_ok_ids,
                           const std::vector<std::string>& after_any_ids);
std::vector<std::string> sbatch_argv(const Job& job, const std::vector<std::string>& after_ok_ids,
                                     const std::vector<std::string>& after_any_ids);

}  // namespace pkd::sweep
