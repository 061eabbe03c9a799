// The report's figures: training curves per task and alpha x beta heat maps (see report.h).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "metrics/glue_metrics.h"
#include "report/plots.h"
#include "report/report.h"

namespace pkd::report {
namespace {

// Task and row names in file names: letters, digits, '.', '-' and '_' only ("BERT6-PKD-[2,4]"
// -> "BERT6-PKD-2_4").
std::string file_part(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c != '[' && c != ']')
      out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_';
  return out;
}

Figure curves(const std::vector<Run>& runs, const ResultTable& table, std::size_t c) {
  const Column& column = table.columns[c];
  Panel dev{"", "optimizer step", "", {}},
      loss{"train loss per example", "optimizer step", "loss", {}};
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const std::size_t i = table.best[r][c];
    if (i == kNoRun) continue;
    const Run& run = runs[i];
    const std::string metric = metrics::primary_metric(run.task, run.regression);
    dev.title = "dev " + metric + " (x100)";
    dev.y_label = metric;
    Series d{table.rows[r].label, {}}, l{table.rows[r].label, {}};
    add_run_curves(run, metric, d, l);
    dev.series.push_back(std::move(d));
    loss.series.push_back(std::move(l));
  }
  const std::string title = column.task + ": training curves of the best run of each model";
  return {"curves-" + file_part(column.task) + ".svg", title,
          line_chart_svg(title, {std::move(dev), std::move(loss)})};
}

using Grid = std::map<std::pair<double, double>, double>;  // (alpha, beta) -> best dev metric

void keep_best(Grid& grid, const Run& run, double value) {
  auto [it, added] = grid.emplace(std::make_pair(run.hp.alpha, run.hp.beta), value);
  if (!added && (std::isnan(it->second) || value > it->second)) it->second = value;
}

// Distillation runs of one task: a map per PKD row (student size and layer map, as the table
// splits them: Skip and Last are the paper's comparison), in the table's order, each with the
// beta = 0 runs of its student size (vanilla KD; alpha = beta = 0 is the fine-tuned student),
// which use no layer map and so appear in every map of their size as the reference.
void add_heat_maps(const std::vector<Run>& runs, const ResultTable& table, const Column& column,
                   std::vector<Figure>& out) {
  std::map<std::int64_t, Grid> unmapped;  // student layers -> beta = 0 cells
  std::map<std::string, Grid> pkd;        // PKD row -> its cells
  std::string metric;
  for (const auto& r : runs) {
    if (r.status != RunStatus::complete || r.command != "distill" || !column_metrics(r, column))
      continue;
    metric = metrics::primary_metric(r.task, r.regression);
    keep_best(r.kind == RunKind::pkd ? pkd[r.row()] : unmapped[r.layers], r, rank_value(r, column));
  }
  for (const auto& row : table.rows) {
    if (row.kind != RunKind::pkd || !pkd.count(row.label)) continue;
    Grid cells = pkd[row.label];  // beta > 0: no (alpha, beta) in common with the beta = 0 cells
    cells.insert(unmapped[row.layers].begin(), unmapped[row.layers].end());
    if (cells.size() < 2) continue;
    HeatMap map;
    std::set<double> alphas, betas;
    for (const auto& [ab, v] : cells) alphas.insert(ab.first), betas.insert(ab.second);
    map.xs.assign(betas.begin(), betas.end());
    map.ys.assign(alphas.begin(), alphas.end());
    for (double a : map.ys) {
      std::vector<double> line;
      for (double b : map.xs) {
        auto it = cells.find({a, b});
        line.push_back(it == cells.end() ? std::nan("") : it->second);
      }
      map.values.push_back(std::move(line));
    }
    map.title = column.name + ", " + row.label + ": best dev " + metric + " x100";
    map.x_label = "beta (patient loss weight; 0 = none)";
    map.y_label = "alpha (KD weight)";
    out.push_back({"heatmap-" + file_part(column.task) + "-" + file_part(row.label) + ".svg",
                   map.title + " per (alpha, beta), over the other hyper-parameters",
                   heat_map_svg(map)});
  }
}

}  // namespace

void add_run_curves(const Run& run, const std::string& metric, Series& dev, Series& loss) {
  std::map<std::int64_t, double> dev_at;  // timeline is sorted by step: later lines overwrite
  bool has_steps = false;
  for (const auto& e : run.timeline) {
    has_steps = has_steps || !e.epoch_end;
    if (!e.dev.empty() && e.dev.begin()->second.count(metric))
      dev_at[e.step] = 100 * e.dev.begin()->second.at(metric);
  }
  for (const auto& [step, value] : dev_at)
    dev.points.emplace_back(static_cast<double>(step), value);
  for (const auto& e : run.timeline)
    if (e.epoch_end != has_steps)
      loss.points.emplace_back(static_cast<double>(e.step), e.train_loss);
}

std::vector<Figure> make_figures(const std::vector<Run>& runs, const ResultTable& table) {
  std::vector<Figure> figures;
  std::set<std::string> tasks;
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    if (!tasks.insert(table.columns[c].task).second) continue;  // MNLI: plot MNLI-m's runs
    figures.push_back(curves(runs, table, c));
    add_heat_maps(runs, table, table.columns[c], figures);
  }
  return figures;
}

}  // namespace pkd::report
