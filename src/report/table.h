#pragma once
// The results table: one row per model kind (BERT12 (teacher), BERT6-FT, BERT6-KD,
// BERT6-PKD-Skip, ...), one column per GLUE task present, each cell the best complete run of its
// row and task by the task's primary dev metric; and the runs whose submission files go into the
// GLUE zip.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "report/cells.h"
#include "report/run.h"

namespace pkd::report {

constexpr std::size_t kNoRun = static_cast<std::size_t>(-1);

struct Row {
  std::string label;  // Run::row()
  RunKind kind = RunKind::teacher;
  std::int64_t layers = -1;
  std::string layer_map;  // PKD rows: "skip", "last" or a list
};

struct ResultTable {
  std::vector<Column> columns;
  std::vector<Row> rows;
  std::vector<std::vector<std::size_t>> best;  // [row][column]: index into the runs, or kNoRun
};

// The best complete run in `column` among those `accept`ed: the highest rank_value (a number
// beats NaN; ties go to the first, i.e. the smallest directory name); kNoRun when none has
// metrics there.
template <class Accept>
std::size_t best_run(const std::vector<Run>& runs, const Column& column, Accept accept) {
  std::size_t best = kNoRun;
  double best_value = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    if (r.status != RunStatus::complete || !accept(r) || !column_metrics(r, column)) continue;
    const double v = rank_value(r, column);
    if (best == kNoRun || (!std::isnan(v) && (std::isnan(best_value) || v > best_value))) {
      best = i;
      best_value = v;
    }
  }
  return best;
}

// Rows in the paper's order — teachers (most layers first), then per student size (largest
// first) FT, KD, PKD-Skip, PKD-Last, other PKD maps — and the best run of every cell.
ResultTable build_table(const std::vector<Run>& runs);

// True when `selector` (a ReportConfig::submission entry) names the run's kind ("pkd", "kd",
// "ft", "teacher") or its row ("BERT6-PKD-Skip").
bool matches_selector(const Run& run, const std::string& selector);

struct SubmissionPick {
  Column column;
  std::size_t run = kNoRun;  // whose submission file goes into the zip; kNoRun: none
  std::string selector;      // the selector it was found by
};

// For every column with a GLUE submission file: of the first selector with such a run, the best
// complete run (best_run) that has the file.
std::vector<SubmissionPick> pick_submissions(const std::vector<Run>& runs,
                                             const std::vector<Column>& columns,
                                             const std::vector<std::string>& selectors);

}  // namespace pkd::report
