#include "glue/custom_task.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace pkd::glue {

TaskSpec CustomTaskConfig::to_task(const std::vector<std::string>& split_names) const {
  if (text_a.empty()) usage_fail("tokenize.custom.text_a must name the column of the first text");
  if (!header && (!text_a.name.empty() || !text_b.name.empty() || !label.name.empty()))
    usage_fail(
        "tokenize.custom: columns are given by name but header = false; give 0-based "
        "column indices, or set header = true");
  if (regression && !labels.empty())
    usage_fail("tokenize.custom: regression = true takes no labels list (got ", labels.size(), ")");
  if (!regression && labels.empty())
    usage_fail(
        "tokenize.custom.labels is empty: list the label strings in id order "
        "(e.g. labels = [\"neg\", \"pos\"]), or set regression = true");
  std::set<std::string> unique(labels.begin(), labels.end());
  if (unique.size() != labels.size())
    usage_fail("tokenize.custom.labels has duplicates: ", join(labels, ", "));
  TaskSpec t;
  t.name = "custom";
  t.labels = labels;
  t.regression = regression;
  t.allow_empty_text = allow_empty_text;
  for (const auto& name : split_names) {
    SplitLayout s;
    s.split = name;
    s.has_header = header;
    s.labeled =
        std::find(unlabeled_splits.begin(), unlabeled_splits.end(), name) == unlabeled_splits.end();
    s.text_a = text_a;
    s.text_b = text_b;
    if (s.labeled) {
      if (label.empty())
        usage_fail("tokenize.custom.label is unset but split '", name,
                   "' is labeled; set the "
                   "label column, or list the split in unlabeled_splits");
      // A text column that is also the label column would train on the answer (unlabeled
      // splits read no label: there the default label column may be a text). Columns given one
      // by index and one by name are compared once the header is read (split_reader).
      for (const auto* text : {&text_a, &text_b})
        if ((text->index >= 0 && text->index == label.index) ||
            (!text->name.empty() && text->name == label.name))
          usage_fail("tokenize.custom.", text == &text_a ? "text_a" : "text_b",
                     " and tokenize.custom.label are the same ", label.describe(), " (split '",
                     name, "' is labeled): the label must be another column than the texts");
      s.label = label;
    }
    t.splits.push_back(s);
  }
  return t;
}

}  // namespace pkd::glue
