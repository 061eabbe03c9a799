#pragma once
// `task = "custom"`: the user's own TSV data, described by the [tokenize.custom] table.
#include <string>
#include <vector>

#include "config/visitor.h"
#include "glue/tasks.h"

namespace pkd::glue {

struct CustomTaskConfig {
  bool header = true;               // first line names the columns
  config::ColumnRef text_a{0, ""};  // first text
  config::ColumnRef text_b;         // second text (pair tasks); unset = single sentence
  config::ColumnRef label{1, ""};   // label column of labeled splits
  std::vector<std::string> labels;  // label strings in id order (classification)
  bool regression = false;          // float labels, one output
  std::vector<std::string> unlabeled_splits{"test"};  // splits whose files carry no label
  bool allow_empty_text = false;  // accept empty texts (e.g. an empty second sentence)

  template <class V>
  void visit(V& v) {
    v.field("header", header, "the first line of every file names the columns");
    v.field("text_a", text_a, "column of the first text: 0-based index or header name");
    v.field("text_b", text_b, "column of the second text for pair tasks (\"\" = none)");
    v.field("label", label, "label column of labeled splits: index or header name");
    v.field("labels", labels, "label strings in id order (classification)");
    v.field("regression", regression, "labels are real numbers (one output, MSE)");
    v.field("unlabeled_splits", unlabeled_splits, "split names whose files have no label column");
    v.field("allow_empty_text", allow_empty_text, "accept rows whose text is empty");
  }

  // Validates and builds the task for the split names found in the data directory.
  TaskSpec to_task(const std::vector<std::string>& split_names) const;
};

}  // namespace pkd::glue
