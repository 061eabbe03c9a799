#pragma once
// `pkd report`: collects the training runs under some directories into the paper's results table
// (Markdown), one CSV line per run, SVG plots and the GLUE submission zip. Torch-free.
#include <string>
#include <vector>

#include "report/plots.h"
#include "report/report_config.h"
#include "report/run.h"
#include "report/table.h"

namespace pkd::report {

struct Figure {
  std::string file;     // "curves-SST-2.svg", relative to the report directory
  std::string caption;  // for results.md
  std::string svg;      // the document
};

// Training curves per task (dev primary metric and train loss over optimizer steps of the best
// run of each row, from every dev evaluation: epoch ends and eval_every steps) and, per task and
// PKD row (student size and layer map) with two or more (alpha, beta) points counting the beta = 0
// runs of its size, a heat map of the best dev metric per (alpha, beta).
std::vector<Figure> make_figures(const std::vector<Run>& runs, const ResultTable& table);
// One run's curves over optimizer steps, appended to `dev` (`metric` x100) and `loss`. Dev: every
// line of metrics.jsonl with dev metrics, step and epoch lines together, one point per step (pkd
// writes no step line at an epoch end; should two lines share a step, the later one is kept).
// Loss: the step lines when the run has some (each the mean since the previous line), else the
// epoch lines (each the epoch's mean): an epoch's mean among the finer means of its steps would
// draw a false bump at every epoch end.
void add_run_curves(const Run& run, const std::string& metric, Series& dev, Series& loss);

struct Report {
  std::vector<Run> runs;  // every run found, sorted by directory
  ResultTable table;
  std::vector<SubmissionPick> submissions;  // empty unless the zip is written
  std::vector<Figure> figures;              // empty unless SVG plots are written
  std::vector<std::string> written;         // files written, full paths
};

// results.md: the table, the best runs' hyper-parameters, the runs left out and why, the zip's
// contents and the plots.
std::string render_markdown(const ReportConfig& config, const Report& report);
// results.csv: one line per run (status, task, model, hyper-parameters, every dev metric).
std::string render_csv(const std::vector<Run>& runs);

// Validates `config`, reads the runs and writes every output of config.format into config.out
// (atomically). Fails when no run is found.
Report write_report(const ReportConfig& config);

}  // namespace pkd::report
