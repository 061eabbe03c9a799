#pragma once
// The columns of the results table (GLUE tasks in the paper's order, MNLI as two columns) and
// how a cell shows a run's dev metrics: the official metric display, x100 with one decimal.
#include <map>
#include <string>
#include <vector>

#include "report/run.h"

namespace pkd::report {

struct Column {
  std::string name;        // "SST-2", "MNLI-m", "MNLI-mm"
  std::string task;        // "SST-2", "MNLI"
  std::string split;       // dev split filling the column ("dev_matched"); "" = the run's dev split
  std::string submission;  // GLUE's submission file ("MNLI-m.tsv"); "" for non-GLUE tasks
};

// GLUE's tasks in the paper's order: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI.
const std::vector<std::string>& glue_task_order();
// The columns of `task`: MNLI-m and MNLI-mm for MNLI, one column named after the task otherwise.
std::vector<Column> columns_of_task(const std::string& task);
// The columns with metrics of some complete run: GLUE's order, then other tasks by name.
std::vector<Column> table_columns(const std::vector<Run>& runs);
// The task whose GLUE submission file is `file_name` ("MNLI-mm.tsv" -> "MNLI"); "" if none.
std::string task_of_submission(const std::string& file_name);

// The metrics a cell shows, in order: MRPC, QQP {f1, accuracy}; regression (STS-B) {pearson,
// spearmanr}; CoLA {matthews_correlation}; otherwise {accuracy}.
std::vector<std::string> display_metrics(const std::string& task, bool regression);
// "F1/accuracy", "Pearson/Spearman", "MCC", "accuracy".
std::string display_description(const std::string& task, bool regression);
// The display metrics x100 with one decimal, joined by '/': "88.9/84.8"; "NaN" for NaN values,
// "?" for a missing metric.
std::string format_cell(const std::string& task, bool regression,
                        const std::map<std::string, double>& metrics);
// x100 with one decimal ("91.3"), "NaN" for NaN.
std::string percent(double value);

// The run's dev metrics in `column`, or null when it has none there.
const std::map<std::string, double>* column_metrics(const Run& run, const Column& column);
// The value that ranks runs in `column`: the task's primary metric (metrics::primary_metric);
// NaN when the run has no metrics there.
double rank_value(const Run& run, const Column& column);

}  // namespace pkd::report
