#pragma once
// Reads one split's TSV file into examples: resolves the layout's columns against the header,
// checks every row (column count, UTF-8, non-empty text, known label) and applies the bad-row
// policy. Errors name the file, the line and what was expected.
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "glue/tasks.h"
#include "glue/tsv.h"

namespace pkd::glue {

struct Example {
  std::int64_t row = 0;   // 0-based data row in the file (header excluded): GLUE's index
  std::int64_t line = 0;  // 1-based line in the file
  std::string_view text_a;
  std::optional<std::string_view> text_b;
  std::int64_t label = -1;  // class id; -1 when unlabeled (and for regression)
  float score = NAN;        // regression target; NaN when unlabeled
};

struct SplitData {
  std::shared_ptr<const TsvFile> file;  // owns the bytes the examples point into
  std::string split;
  bool labeled = true;
  std::vector<Example> examples;
  std::vector<std::int64_t> skipped_lines;  // 1-based lines dropped by the skip policy
};

SplitData read_split(const TaskSpec& task, const SplitLayout& layout, const std::string& path,
                     BadRowPolicy policy);

}  // namespace pkd::glue
