// `pkd report`: finished training runs -> the paper's results table, plots and GLUE zip.
#include <cstdio>

#include "command_line.h"
#include "commands.h"
#include "core/error.h"
#include "mpi/comm.h"
#include "report/report.h"

namespace pkd::cli {
namespace {

const char* kUsage =
    "Usage: pkd report --runs DIR [--runs DIR ...] --out OUT_DIR [--format md,csv,svg,zip]\n\n"
    "Collects the pkd finetune / pkd distill runs found under the --runs directories (searched\n"
    "recursively) into the results table of the PKD paper: one row per model (BERT12 (teacher),\n"
    "BERT6-FT, BERT6-KD, BERT6-PKD-Skip, ...), one column per GLUE task, each cell the best run\n"
    "by the task's dev metric. Writes OUT_DIR/results.md (the table, the best runs'\n"
    "hyper-parameters, unfinished and unreadable runs), results.csv (every run), SVG training\n"
    "curves and alpha x beta heat maps, and glue_submission.zip (the best runs' GLUE submission\n"
    "files). See docs/report.md.\n\n"
    "Options:\n";

}  // namespace

int run_report_command(const std::vector<std::string>& all_args) {
  // --runs repeats, and each takes a comma-separated list like every list flag: all add up.
  std::vector<std::string> args, runs;
  for (std::size_t i = 0; i < all_args.size(); ++i) {
    std::string value;
    if (all_args[i] == "--runs") {
      if (i + 1 >= all_args.size()) usage_fail("pkd report: --runs needs a directory");
      value = all_args[++i];
    } else if (starts_with(all_args[i], "--runs=")) {
      value = all_args[i].substr(7);
    } else {
      args.push_back(all_args[i]);
      continue;
    }
    for (const auto& dir : split(value, ','))
      if (!dir.empty()) runs.push_back(dir);
  }
  report::ReportConfig config;
  CommandLine cl = parse_command_line("report", args, config::flags_of("report", config));
  if (cl.help) {
    std::printf("%s%s\n%s", kUsage,
                config::format_flag_help(config::flags_of("report", config)).c_str(),
                common_flags_help().c_str());
    return 0;
  }
  if (!cl.positional.empty())
    usage_fail("pkd report takes no positional arguments, got '", cl.positional[0],
               "' (directories of runs go after --runs)");
  cl.doc.check_tables({"report"});
  cl.doc.read("report", config);
  if (!runs.empty()) config.runs = runs;
  if (!mpi::Comm::world().is_root()) return 0;  // one report per job: rank 0 writes it
  const report::Report r = report::write_report(config);
  int complete = 0;
  for (const auto& run : r.runs) complete += run.status == report::RunStatus::complete;
  std::printf("%zu runs (%d complete), %zu rows x %zu columns\n", r.runs.size(), complete,
              r.table.rows.size(), r.table.columns.size());
  for (const auto& file : r.written) std::printf("wrote %s\n", file.c_str());
  return 0;
}

}  // namespace pkd::cli
