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

// Task names in file names: letters, digits, '.', '-' and '_' only.
std::string file_part(const std::string& text) {
  std::string out;
  for (char c : text)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_';
  return out;
}

Figure curves(const std::vector<Run>& runs, const ResultTable& table, std::size_t c) {
  const Column& column = table.columns[c];
  Panel dev{"", "epoch", "", {}}, loss{"train loss per example", "epoch", "loss", {}};
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const std::size_t i = table.best[r][c];
    if (i == kNoRun) continue;
    const Run& run = runs[i];
    const std::string metric = metrics::primary_metric(run.task, run.regression);
    dev.title = "dev " + metric + " (x100)";
    dev.y_label = metric;
    Series d{table.rows[r].label, {}}, l{table.rows[r].label, {}};
    for (const auto& e : run.history) {
      const auto x = static_cast<double>(e.epoch);
      if (!e.dev.empty() && e.dev.begin()->second.count(metric))
        d.points.emplace_back(x, 100 * e.dev.begin()->second.at(metric));
      l.points.emplace_back(x, e.train_loss);
    }
    dev.series.push_back(std::move(d));
    loss.series.push_back(std::move(l));
  }
  const std::string title = column.task + ": training curves of the best run of each model";
  return {"curves-" + file_part(column.task) + ".svg", title,
          line_chart_svg(title, {std::move(dev), std::move(loss)})};
}

// Distillation runs of one task and student size: the best dev metric per (alpha, beta).
void add_heat_maps(const std::vector<Run>& runs, const Column& column, std::vector<Figure>& out) {
  std::map<std::int64_t, std::map<std::pair<double, double>, double>> grids;  // layers -> cells
  std::set<std::int64_t> with_pkd;
  std::string metric;
  for (const auto& r : runs) {
    if (r.status != RunStatus::complete || r.command != "distill" || !column_metrics(r, column))
      continue;
    const double v = rank_value(r, column);
    metric = metrics::primary_metric(r.task, r.regression);
    auto [it, added] = grids[r.layers].emplace(std::make_pair(r.hp.alpha, r.hp.beta), v);
    if (!added && (std::isnan(it->second) || v > it->second)) it->second = v;
    if (r.kind == RunKind::pkd) with_pkd.insert(r.layers);
  }
  for (const auto& [layers, cells] : grids) {
    if (!with_pkd.count(layers) || cells.size() < 2) continue;
    HeatMap map;
    std::set<double> alphas, betas;
    for (const auto& [ab, v] : cells) alphas.insert(ab.first), betas.insert(ab.second);
    map.xs.assign(betas.begin(), betas.end());
    map.ys.assign(alphas.begin(), alphas.end());
    for (double a : map.ys) {
      std::vector<double> row;
      for (double b : map.xs) {
        auto it = cells.find({a, b});
        row.push_back(it == cells.end() ? std::nan("") : it->second);
      }
      map.values.push_back(std::move(row));
    }
    const std::string student = "BERT" + std::to_string(layers);
    map.title = column.name + ", " + student + " students: best dev " + metric + " x100";
    map.x_label = "beta (patient loss weight)";
    map.y_label = "alpha (KD weight)";
    out.push_back({"heatmap-" + file_part(column.task) + "-" + student + ".svg",
                   map.title + " per (alpha, beta), over the other hyper-parameters",
                   heat_map_svg(map)});
  }
}

}  // namespace

std::vector<Figure> make_figures(const std::vector<Run>& runs, const ResultTable& table) {
  std::vector<Figure> figures;
  std::set<std::string> tasks;
  for (std::size_t c = 0; c < table.columns.size(); ++c) {
    if (!tasks.insert(table.columns[c].task).second) continue;  // MNLI: plot MNLI-m's runs
    figures.push_back(curves(runs, table, c));
    add_heat_maps(runs, table.columns[c], figures);
  }
  return figures;
}

}  // namespace pkd::report
