#include "glue/split_reader.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "text/utf8.h"

namespace pkd::glue {
namespace {

// Resolves a column reference to an index, against the header when the file has one.
int resolve(const config::ColumnRef& ref, const std::vector<std::string_view>& header,
            const std::string& path, const char* role, const TaskSpec& task,
            const SplitLayout& layout) {
  if (ref.empty()) return -1;
  if (ref.index >= 0) return static_cast<int>(ref.index);
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == ref.name) return static_cast<int>(i);
  std::vector<std::string> names(header.begin(), header.end());
  fail("header mismatch in '", path, "' line 1: expected a column named '", ref.name, "' (", role,
       " of the ", task.name, " ", layout.split, " split), found columns [", join(names, ", "), "]",
       did_you_mean(ref.name, names), ". Is this the right file for this task and split?");
}

class RowChecker {
 public:
  RowChecker(const std::string& path, BadRowPolicy policy, SplitData& data)
      : path_(path), policy_(policy), data_(data) {}

  // Returns false when the row is skipped; throws under the error policy.
  template <class... Args>
  bool reject(std::int64_t line, Args&&... problem) {
    if (policy_ == BadRowPolicy::error)
      fail("'", path_, "' line ", line, ": ", cat(std::forward<Args>(problem)...),
           " (set on_bad_row = \"skip\" to drop such rows)");
    data_.skipped_lines.push_back(line);
    return false;
  }

 private:
  const std::string& path_;
  BadRowPolicy policy_;
  SplitData& data_;
};

}  // namespace

SplitData read_split(const TaskSpec& task, const SplitLayout& layout, const std::string& path,
                     BadRowPolicy policy) {
  SplitData data;
  data.file = TsvFile::read(path);
  data.split = layout.split;
  data.labeled = layout.labeled;
  const auto& lines = data.file->lines();

  std::vector<std::string_view> header, cols;
  std::size_t first = 0;
  std::size_t expected_columns = static_cast<std::size_t>(layout.num_columns);
  if (layout.has_header) {
    if (lines.empty()) fail("'", path, "' is empty: expected a header line and data rows");
    std::size_t bad = text::find_invalid_utf8(lines[0].text);
    if (bad != std::string_view::npos)
      fail("'", path, "' line 1 (header): invalid UTF-8 at byte ", bad + 1);
    TsvFile::split_columns(lines[0].text, header);
    expected_columns = header.size();
    first = 1;
  }
  const int a = resolve(layout.text_a, header, path, "text_a", task, layout);
  const int b = resolve(layout.text_b, header, path, "text_b", task, layout);
  const int label =
      layout.labeled ? resolve(layout.label, header, path, "label", task, layout) : -1;
  // Checked again after names are resolved: `text_a = "b"` may name the label's column.
  if (label >= 0 && (label == a || label == b))
    usage_fail("'", path, "': the label column ", label, " is also a text column (text_",
               label == a ? "a" : "b", "): the label must be another column than the texts");
  const int max_column = std::max({a, b, label});
  if (expected_columns && static_cast<std::size_t>(max_column) >= expected_columns)
    usage_fail("'", path, "': the layout reads column ", max_column, " but rows have ",
               expected_columns, " columns");

  RowChecker check(path, policy, data);
  data.examples.reserve(lines.size());
  for (std::size_t i = first; i < lines.size(); ++i) {
    const TsvLine& line = lines[i];
    const std::int64_t row = static_cast<std::int64_t>(i - first);
    std::size_t bad = text::find_invalid_utf8(line.text);
    if (bad != std::string_view::npos) {
      check.reject(line.line_number, "invalid UTF-8 at byte ", bad + 1, " of the line");
      continue;
    }
    TsvFile::split_columns(line.text, cols);
    if (expected_columns ? cols.size() != expected_columns
                         : cols.size() <= static_cast<std::size_t>(max_column)) {
      check.reject(line.line_number, "expected ",
                   expected_columns ? expected_columns : max_column + 1, " tab-separated columns",
                   layout.has_header ? " (as in the header)" : "", ", found ", cols.size());
      continue;
    }
    Example ex;
    ex.row = row;
    ex.line = line.line_number;
    ex.text_a = cols[static_cast<std::size_t>(a)];
    if (b >= 0) ex.text_b = cols[static_cast<std::size_t>(b)];
    if (!task.allow_empty_text) {
      if (trim(ex.text_a).empty()) {
        check.reject(line.line_number, "text_a (", layout.text_a.describe(), ") is empty");
        continue;
      }
      if (ex.text_b && trim(*ex.text_b).empty()) {
        check.reject(line.line_number, "text_b (", layout.text_b.describe(), ") is empty");
        continue;
      }
    }
    if (label >= 0) {
      std::string_view value = cols[static_cast<std::size_t>(label)];
      if (task.regression) {
        double score;
        // Scores are stored as float32: a finite double beyond float's range (e.g. 1e39) would
        // become inf (found by fuzz/fuzz_tsv.cpp, fuzz/regressions/tsv/score-overflows-float).
        if (!parse_double(value, score) || !std::isfinite(score) ||
            !std::isfinite(static_cast<float>(score))) {
          check.reject(line.line_number, "label ", quoted(value), " (", layout.label.describe(),
                       ") is not a finite number within float32 range (", task.name,
                       " is a regression task)");
          continue;
        }
        ex.score = static_cast<float>(score);
      } else {
        for (std::size_t k = 0; k < task.labels.size(); ++k)
          if (task.labels[k] == value) ex.label = static_cast<std::int64_t>(k);
        if (ex.label < 0) {
          check.reject(line.line_number, "unknown label ", quoted(value), " (",
                       layout.label.describe(), "), expected one of: ", join(task.labels, ", "));
          continue;
        }
      }
    }
    data.examples.push_back(ex);
  }
  if (!data.skipped_lines.empty()) {
    std::vector<std::string> shown;
    for (std::size_t i = 0; i < data.skipped_lines.size() && i < 20; ++i)
      shown.push_back(std::to_string(data.skipped_lines[i]));
    log_warn("'", path, "': skipped ", data.skipped_lines.size(), " malformed rows (lines ",
             join(shown, ", "), data.skipped_lines.size() > 20 ? ", ..." : "",
             "); all are listed in the manifest");
  }
  if (data.examples.empty())
    fail("'", path, "' has no usable data rows", layout.has_header ? " after the header" : "");
  return data;
}

}  // namespace pkd::glue
