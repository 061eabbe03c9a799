// `pkd sweep`: submits a whole pipeline — per task tokenize -> teacher -> cache -> an array of
// distillation runs over a grid, then one report — as Slurm jobs chained with dependencies.
// Every run's configuration is validated before anything is submitted.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "command_line.h"
#include "commands.h"
#include "config/document.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"
#include "sweep/plan.h"
#include "sweep/submit.h"

namespace pkd::cli {
namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "Usage: pkd sweep --config SWEEP.toml [--set sweep.key=value ...] [--dry-run]\n\n"
    "Submits a GLUE pipeline to Slurm: for every task of sweep.tasks, tokenize -> fine-tune the\n"
    "teacher -> cache its features -> an array of distillation runs (PKD over sweep.grid,\n"
    "vanilla KD over sweep.kd, the fine-tuned students of sweep.baseline, each crossed with\n"
    "sweep.common, e.g. 6- and 3-layer students), then one report of all runs; each job\n"
    "starts after its inputs succeeded (afterok), and a failed job cancels its dependents. Every\n"
    "run's configuration is checked first. --dry-run prints the sbatch commands and the grid and\n"
    "submits nothing. The [sweep] keys: docs/cluster.md; the paper's grid:\n"
    "configs/glue/sweep.toml. The job scripts are PKD_ROOT/jobs/slurm/*.sbatch (PKD_ROOT: the\n"
    "environment variable, else the checkout this binary was built in).\n\n";

// The checkout holding jobs/slurm/: $PKD_ROOT, else the binary's <root>/build*/bin/pkd.
std::string pkd_root() {
  if (const char* env = std::getenv("PKD_ROOT")) {
    if (!fs::is_directory(fs::path(env) / "jobs" / "slurm"))
      usage_fail("PKD_ROOT='", env, "' has no jobs/slurm/ directory");
    return env;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path p = exe.parent_path(); !ec && !p.empty() && p != p.root_path(); p = p.parent_path())
    if (fs::is_directory(p / "jobs" / "slurm")) return p.string();
  usage_fail("cannot find the pkd checkout (jobs/slurm/) above ", exe.string(),
             ": set PKD_ROOT to it");
}

// Fails now, naming the run, when a training job would refuse its configuration later.
void check_runs(const std::vector<sweep::Job>& jobs) {
  for (const auto& j : jobs) {
    if (j.stage != "teacher" && j.stage != "distill") continue;
    std::vector<std::string> base = {"--config"};
    base.insert(base.end(), j.args.begin(), j.args.end());
    const std::string command = j.stage == "teacher" ? "finetune" : "distill";
    std::vector<std::string> lines = j.grid_lines;
    if (lines.empty()) lines.push_back("");
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::vector<std::string> args = base;
      if (!lines[i].empty())
        for (const auto& word : split(lines[i], '\t')) args.push_back(word);
      try {
        check_training_config(command, args);
      } catch (const std::exception& e) {
        usage_fail("sweep job ", j.key, lines.size() > 1 ? " run " + std::to_string(i) : "", " (",
                   j.args[0], "): ", e.what());
      }
    }
  }
}

}  // namespace

int run_sweep_command(const std::vector<std::string>& all_args) {
  std::vector<std::string> args;
  bool dry_run = false;
  for (const auto& a : all_args) (a == "--dry-run" ? dry_run = true : (args.push_back(a), false));
  CommandLine cl = parse_command_line("sweep", args, {});
  if (cl.help) {
    std::printf("%s%s", kUsage, common_flags_help().c_str());
    return 0;
  }
  if (!cl.positional.empty())
    usage_fail("pkd sweep takes no positional arguments, got '", cl.positional[0], "'");
  cl.doc.check_tables({"sweep"});
  sweep::SweepConfig config;
  cl.doc.read("sweep", config);
  // Inputs that exist before the sweep runs (relative paths: to the working directory).
  auto must_exist = [](const std::string& key, const std::string& path) {
    if (!fs::exists(path))
      usage_fail("sweep.", key, " '", path, "' does not exist (relative paths are relative to the ",
                 "working directory, ", fs::current_path().string(), ")");
  };
  must_exist("configs", config.configs);
  if (config.has_stage("tokenize")) {
    must_exist("glue_dir", config.glue_dir);
    must_exist("vocab", config.vocab);
  }
  const auto jobs = sweep::plan_sweep(config, pkd_root());
  for (const auto& j : jobs)
    if (!fs::exists(j.script)) usage_fail("job script ", j.script, " does not exist");
  check_runs(jobs);
  const std::string work = fs::absolute(config.work_dir).lexically_normal().string();
  auto submitted = sweep::submit_sweep(jobs, work, dry_run, std::cout);
  if (!dry_run) {
    std::string record;
    for (const auto& s : submitted) record += s.key + "\t" + s.id + "\n";
    make_directories(work + "/sweep");
    write_file_atomic(work + "/sweep/jobs.tsv", record);
    write_file_atomic(work + "/sweep/sweep.toml", config::to_toml("sweep", config));
    std::printf("%zu jobs submitted; ids in %s/sweep/jobs.tsv, logs in %s/logs\n", submitted.size(),
                work.c_str(), work.c_str());
  }
  return 0;
}

}  // namespace pkd::cli
