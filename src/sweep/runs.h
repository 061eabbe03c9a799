#pragma once
// The distillation runs of one task's array job: the rows of the paper's Table 1 and its
// ablations as groups of runs, each group the cross product of its axes "key=v1,v2,..." (first
// axis slowest), crossed with the axes of sweep.common (the student's depth), which come first:
//   PKD  sweep.grid      "pkd-k6-mapskip-T10-a0.5-b100-lr2e-5"  the configs' loss, axes applied
//   KD   sweep.kd        "kd-k3-T10-a0.5-lr2e-5"                distill.loss.beta = 0 forced
//   FT   sweep.baseline  "ft-k6-lr2e-5"                         alpha = beta = 0 forced
// The forced values are written after the axes (they win) and may not be axes themselves. Run
// names are the output directories under students/<TASK>/ and are unique. Pure and torch-free:
// the keys pkd sweep writes come from the torch-free config structs (config::key_of).
#include <cstdint>
#include <string>
#include <vector>

#include "sweep/sweep_config.h"

namespace pkd::sweep {

// One axis "key=v1,v2,...": values trimmed, none empty, no tab or newline (the grid file's
// separators). UsageError naming `where` (e.g. "sweep.kd") when malformed.
struct Axis {
  std::string key;
  std::vector<std::string> values;
};
Axis parse_axis(const std::string& text, const std::string& where);

// One point of a hyper-parameter grid: the run's directory name and its `--set` overrides.
struct GridPoint {
  std::string name;               // e.g. "pkd-T10-a0.5-b100-lr2e-5"
  std::vector<std::string> sets;  // e.g. {"distill.loss.temperature=10", ...}
};

// The cross product of `axes` (first axis slowest), each run named `prefix` plus one short label
// per axis (temperature -> T, alpha -> a, beta -> b, learning_rate -> lr, student_layers -> k,
// layer_map -> map) and its value; characters other than [A-Za-z0-9._+-] in a value become '_'
// in the name. No axes: one run named `prefix` (the configs' values).
std::vector<GridPoint> expand_grid(const std::vector<std::string>& axes, const std::string& prefix);

// The dotted keys pkd sweep writes into `--set` overrides, taken from the config structs'
// visit() lists (distill/distill_config.h, train/finetune_config.h), not re-spelled.
struct SweepKeys {
  std::string alpha;          // distill.loss.alpha
  std::string beta;           // distill.loss.beta
  std::string teacher;        // distill.teacher
  std::string student_init;   // distill.student_init
  std::string finetune_init;  // finetune.init
};
const SweepKeys& sweep_keys();

// Every distillation run of one task, in array order: PKD, then KD, then FT.
struct DistillRuns {
  std::vector<GridPoint> runs;
  std::int64_t pkd = 0, kd = 0, ft = 0;  // runs per group (sweep.common included)
};
// Expands and checks the groups of `config`: axes well formed, no key twice in a group (with
// sweep.common), no axis over a forced key, names unique. UsageError naming the key.
DistillRuns distill_runs(const SweepConfig& config);

}  // namespace pkd::sweep
