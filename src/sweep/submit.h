#pragma once
// Submitting a planned sweep with sbatch: in dependency order, each job's dependencies given as
// the ids Slurm returned; all or nothing (a failed submission cancels the jobs already
// submitted, so no half pipeline waits in the queue).
#include <ostream>
#include <string>
#include <vector>

#include "sweep/plan.h"

namespace pkd::sweep {

struct CommandOutput {
  int status = -1;  // exit status; 127 when the program could not be started
  std::string out, err;
};
// Runs argv[0] (looked up in PATH) with argv, capturing stdout and stderr.
CommandOutput run_command(const std::vector<std::string>& argv);

struct SubmittedJob {
  std::string key;  // Job::key
  std::string id;   // Slurm job id (the array's id for arrays)
};

// Dry run: prints a shell script of the sbatch commands (dependencies as $variables) and the
// grid of every array, and writes nothing. Otherwise writes the grid files and the log
// directory, submits, prints one line per job, and returns the ids.
std::vector<SubmittedJob> submit_sweep(const std::vector<Job>& jobs, const std::string& work_dir,
                                       bool dry_run, std::ostream& out);

}  // namespace pkd::sweep
