#pragma once
// The GLUE tasks: file layout of each split, label lists in the order of the reference BERT
// processors (so label ids match HuggingFace's), and the bad-row policy.
#include <string>
#include <string_view>
#include <vector>

#include "config/visitor.h"

namespace pkd::glue {

enum class BadRowPolicy { error, skip };
BadRowPolicy parse_bad_row_policy(const std::string& name);  // "error" | "skip"
const char* to_string(BadRowPolicy policy);

struct SplitLayout {
  std::string split;  // file stem: "train", "dev", "test", "dev_matched", ...
  bool has_header = true;
  int num_columns = 0;  // for headerless files: the exact column count; 0 = the header's count
  bool labeled = true;
  config::ColumnRef text_a, text_b, label;  // by name for headed files, by index otherwise
};

struct TaskSpec {
  std::string name;                 // canonical: "SST-2", "MNLI", "custom", ...
  std::vector<std::string> labels;  // label strings in id order; empty for regression
  bool regression = false;
  BadRowPolicy default_bad_row_policy = BadRowPolicy::error;
  bool allow_empty_text = false;  // an empty text is a malformed row unless allowed
  std::vector<SplitLayout> splits;

  const SplitLayout* find_split(std::string_view split) const;
  std::vector<std::string> split_names() const;
};

// A split name becomes a directory (OUT/<split>/) and a file stem: it must be a plain name of
// [A-Za-z0-9._-], at most 100 characters, and not "." or ".." (which would write into OUT's
// parent). UsageError naming `where` (the config key, or the file the name came from) if not.
bool is_plain_name(std::string_view name);
void check_split_name(const std::string& name, const std::string& where,
                      const std::string& hint = "");

// The nine GLUE tasks; names match case-insensitively and without '-' ("sst2", "STS-B").
const TaskSpec* find_glue_task(std::string_view name);
std::vector<std::string> glue_task_names();

}  // namespace pkd::glue
