#include "report/table.h"

#include <algorithm>
#include <tuple>

namespace pkd::report {
namespace {

// PKD maps: skip, then last, then explicit lists by text.
int map_rank(const std::string& label) {
  return label == "Skip" ? 0 : label == "Last" ? 1 : 2;
}

bool row_before(const Row& a, const Row& b) {
  const bool ta = a.kind == RunKind::teacher, tb = b.kind == RunKind::teacher;
  if (ta != tb) return ta;
  if (a.layers != b.layers) return a.layers > b.layers;
  if (a.kind != b.kind) return a.kind < b.kind;
  const std::string ma = layer_map_label(a.layer_map), mb = layer_map_label(b.layer_map);
  return std::make_tuple(map_rank(ma), ma) < std::make_tuple(map_rank(mb), mb);
}

}  // namespace

ResultTable build_table(const std::vector<Run>& runs) {
  ResultTable t;
  t.columns = table_columns(runs);
  for (const auto& r : runs) {
    if (r.status != RunStatus::complete) continue;
    const std::string label = r.row();
    if (std::none_of(t.rows.begin(), t.rows.end(),
                     [&](const Row& row) { return row.label == label; }))
      t.rows.push_back({label, r.kind, r.layers, r.hp.layer_map});
  }
  std::stable_sort(t.rows.begin(), t.rows.end(), row_before);
  for (const auto& row : t.rows) {
    std::vector<std::size_t> cells;
    for (const auto& column : t.columns)
      cells.push_back(best_run(runs, column, [&](const Run& r) { return r.row() == row.label; }));
    t.best.push_back(std::move(cells));
  }
  return t;
}

bool matches_selector(const Run& run, const std::string& selector) {
  return selector == to_string(run.kind) || selector == run.row();
}

std::vector<SubmissionPick> pick_submissions(const std::vector<Run>& runs,
                                             const std::vector<Column>& columns,
                                             const std::vector<std::string>& selectors) {
  std::vector<SubmissionPick> picks;
  for (const auto& column : columns) {
    if (column.submission.empty()) continue;
    SubmissionPick pick{column, kNoRun, ""};
    for (const auto& selector : selectors) {
      pick.run = best_run(runs, column, [&](const Run& r) {
        return matches_selector(r, selector) &&
               std::count(r.submissions.begin(), r.submissions.end(), column.submission) > 0;
      });
      if (pick.run != kNoRun) {
        pick.selector = selector;
        break;
      }
    }
    picks.push_back(std::move(pick));
  }
  return picks;
}

}  // namespace pkd::report
