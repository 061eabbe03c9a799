#include "report/cells.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "metrics/glue_metrics.h"

namespace pkd::report {

const std::vector<std::string>& glue_task_order() {
  static const std::vector<std::string> order = {"CoLA", "SST-2", "MRPC", "STS-B", "QQP",
                                                 "MNLI", "QNLI",  "RTE",  "WNLI"};
  return order;
}

namespace {

bool is_glue(const std::string& task) {
  const auto& order = glue_task_order();
  return std::find(order.begin(), order.end(), task) != order.end();
}

std::size_t task_rank(const std::string& task) {
  const auto& order = glue_task_order();
  return static_cast<std::size_t>(std::find(order.begin(), order.end(), task) - order.begin());
}

}  // namespace

std::vector<Column> columns_of_task(const std::string& task) {
  if (task == "MNLI")
    return {{"MNLI-m", "MNLI", "dev_matched", "MNLI-m.tsv"},
            {"MNLI-mm", "MNLI", "dev_mismatched", "MNLI-mm.tsv"}};
  return {{task, task, "", is_glue(task) ? task + ".tsv" : ""}};
}

std::vector<Column> table_columns(const std::vector<Run>& runs) {
  std::set<std::string> tasks;
  for (const auto& r : runs)
    if (r.status == RunStatus::complete) tasks.insert(r.task);
  std::vector<std::string> ordered(tasks.begin(), tasks.end());  // by name
  std::stable_sort(ordered.begin(), ordered.end(), [](const std::string& a, const std::string& b) {
    return task_rank(a) < task_rank(b);
  });
  std::vector<Column> columns;
  for (const auto& task : ordered)
    for (auto& c : columns_of_task(task))
      if (std::any_of(runs.begin(), runs.end(), [&](const Run& r) {
            return r.status == RunStatus::complete && column_metrics(r, c);
          }))  // MNLI-mm only when some run was evaluated on dev_mismatched
        columns.push_back(std::move(c));
  return columns;
}

std::string task_of_submission(const std::string& file_name) {
  if (file_name == "MNLI-m.tsv" || file_name == "MNLI-mm.tsv") return "MNLI";
  for (const auto& task : glue_task_order())
    if (task != "MNLI" && file_name == task + ".tsv") return task;
  return "";
}

std::vector<std::string> display_metrics(const std::string& task, bool regression) {
  if (regression) return {"pearson", "spearmanr"};
  if (task == "MRPC" || task == "QQP") return {"f1", "accuracy"};
  if (task == "CoLA") return {"matthews_correlation"};
  return {"accuracy"};
}

std::string display_description(const std::string& task, bool regression) {
  if (regression) return "Pearson/Spearman";
  if (task == "MRPC" || task == "QQP") return "F1/accuracy";
  if (task == "CoLA") return "MCC";
  return "accuracy";
}

std::string percent(double value) {
  if (std::isnan(value)) return "NaN";
  // Half-way cases round away from zero as written in eval_results.json (0.8765 -> 87.7), not
  // as their binary approximation (876.4999...).
  const double tenths = std::round(1000.0 * value + std::copysign(1e-9, value));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", tenths / 10.0);
  return buf;
}

std::string format_cell(const std::string& task, bool regression,
                        const std::map<std::string, double>& metrics) {
  std::string cell;
  for (const auto& name : display_metrics(task, regression)) {
    auto it = metrics.find(name);
    cell +=
        (cell.empty() ? "" : "/") + (it == metrics.end() ? std::string("?") : percent(it->second));
  }
  return cell;
}

const std::map<std::string, double>* column_metrics(const Run& run, const Column& column) {
  if (run.task != column.task) return nullptr;
  const std::string split = column.split.empty() ? run.dev_split() : column.split;
  auto it = run.eval.find(split);
  if (it != run.eval.end()) return &it->second;
  // A non-MNLI run evaluated under another split name: its only entry is its dev split.
  if (column.split.empty() && run.eval.size() == 1) return &run.eval.begin()->second;
  return nullptr;
}

double rank_value(const Run& run, const Column& column) {
  const auto* m = column_metrics(run, column);
  if (!m) return std::numeric_limits<double>::quiet_NaN();
  auto it = m->find(metrics::primary_metric(run.task, run.regression));
  return it == m->end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

}  // namespace pkd::report
