#pragma once
// Finding run directories and reading them: the effective config (TOML), eval_results.json,
// metrics.jsonl, model/config.json, the train split's manifest.json and the submission files.
#include <string>
#include <vector>

#include "report/run.h"

namespace pkd::report {

// Run directories (holding finetune.toml or distill.toml) under each root, recursively, sorted
// and without duplicates; a run directory's subdirectories are not searched. Fails naming a root
// that is not a directory.
std::vector<std::string> find_run_dirs(const std::vector<std::string>& roots);

// Reads one run directory. Unreadable input — an effective config that does not parse, lacks a
// key pkd always writes or has a key its structs do not know (a newer pkd's), a corrupt
// eval_results.json, metrics.jsonl or model/config.json, dev metrics without the task's metrics,
// a task that cannot be told — throws Error (never UsageError: the run is damaged, not the
// command line) naming the file. A run that has not finished is returned with status unfinished
// and the reason in `problem`.
Run read_run(const std::string& dir);

// Every run under `roots`. An unreadable run is kept with status unreadable and the error as its
// problem (and a warning is logged), or the error propagates when `strict`.
std::vector<Run> collect_runs(const std::vector<std::string>& roots, bool strict);

}  // namespace pkd::report
