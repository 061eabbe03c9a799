#include "glue/tasks.h"

#include <cstdio>

#include "core/error.h"

namespace pkd::glue {
namespace {

config::ColumnRef by_name(const char* name) {
  return config::ColumnRef{-1, name};
}
config::ColumnRef by_index(std::int64_t index) {
  return config::ColumnRef{index, ""};
}
config::ColumnRef none() {
  return config::ColumnRef{};
}

SplitLayout headed(const char* split, bool labeled, const char* a, const char* b,
                   const char* label) {
  SplitLayout s;
  s.split = split;
  s.labeled = labeled;
  s.text_a = by_name(a);
  s.text_b = b ? by_name(b) : none();
  s.label = labeled ? by_name(label) : none();
  return s;
}

TaskSpec task(const char* name, std::vector<std::string> labels) {
  TaskSpec t;
  t.name = name;
  t.labels = std::move(labels);
  return t;
}

// Layouts follow GLUE's files as distributed (and the BERT/HuggingFace processors): train/dev
// carry labels, test files have an `index` column and no label.
std::vector<TaskSpec> make_tasks() {
  std::vector<TaskSpec> tasks;
  {
    TaskSpec t = task("CoLA", {"0", "1"});
    SplitLayout train;  // headerless: source, label, original label, sentence
    train.split = "train";
    train.has_header = false;
    train.num_columns = 4;
    train.text_a = by_index(3);
    train.label = by_index(1);
    SplitLayout dev = train;
    dev.split = "dev";
    t.splits = {train, dev, headed("test", false, "sentence", nullptr, nullptr)};
    tasks.push_back(t);
  }
  {
    TaskSpec t = task("SST-2", {"0", "1"});
    t.splits = {headed("train", true, "sentence", nullptr, "label"),
                headed("dev", true, "sentence", nullptr, "label"),
                headed("test", false, "sentence", nullptr, nullptr)};
    tasks.push_back(t);
  }
  {
    TaskSpec t = task("MRPC", {"0", "1"});
    t.splits = {headed("train", true, "#1 String", "#2 String", "Quality"),
                headed("dev", true, "#1 String", "#2 String", "Quality"),
                headed("test", false, "#1 String", "#2 String", nullptr)};
    tasks.push_back(t);
  }
  {
    TaskSpec t = task("STS-B", std::vector<std::string>{});
    t.regression = true;
    t.splits = {headed("train", true, "sentence1", "sentence2", "score"),
                headed("dev", true, "sentence1", "sentence2", "score"),
                headed("test", false, "sentence1", "sentence2", nullptr)};
    tasks.push_back(t);
  }
  {
    // The reference processors skip QQP rows with missing columns; so do we by default.
    TaskSpec t = task("QQP", {"0", "1"});
    t.default_bad_row_policy = BadRowPolicy::skip;
    t.splits = {headed("train", true, "question1", "question2", "is_duplicate"),
                headed("dev", true, "question1", "question2", "is_duplicate"),
                headed("test", false, "question1", "question2", nullptr)};
    tasks.push_back(t);
  }
  {
    TaskSpec t = task("MNLI", {"contradiction", "entailment", "neutral"});
    t.splits = {headed("train", true, "sentence1", "sentence2", "gold_label"),
                headed("dev_matched", true, "sentence1", "sentence2", "gold_label"),
                headed("dev_mismatched", true, "sentence1", "sentence2", "gold_label"),
                headed("test_matched", false, "sentence1", "sentence2", nullptr),
                headed("test_mismatched", false, "sentence1", "sentence2", nullptr)};
    tasks.push_back(t);
  }
  {
    TaskSpec t = task("QNLI", {"entailment", "not_entailment"});
    t.splits = {headed("train", true, "question", "sentence", "label"),
                headed("dev", true, "question", "sentence", "label"),
                headed("test", false, "question", "sentence", nullptr)};
    tasks.push_back(t);
  }
  for (const char* name : {"RTE", "WNLI"}) {
    TaskSpec t = task(name, std::string(name) == "RTE"
                                ? std::vector<std::string>{"entailment", "not_entailment"}
                                : std::vector<std::string>{"0", "1"});
    t.splits = {headed("train", true, "sentence1", "sentence2", "label"),
                headed("dev", true, "sentence1", "sentence2", "label"),
                headed("test", false, "sentence1", "sentence2", nullptr)};
    tasks.push_back(t);
  }
  return tasks;
}

const std::vector<TaskSpec>& all_tasks() {
  static const std::vector<TaskSpec> tasks = make_tasks();
  return tasks;
}

std::string simplified(std::string_view name) {
  std::string s;
  for (char c : to_lower_ascii(name))
    if (c != '-' && c != '_') s += c;
  return s;
}

}  // namespace

BadRowPolicy parse_bad_row_policy(const std::string& name) {
  if (name == "error") return BadRowPolicy::error;
  if (name == "skip") return BadRowPolicy::skip;
  usage_fail("on_bad_row must be \"error\" or \"skip\", got \"", name, "\"");
}

const char* to_string(BadRowPolicy policy) {
  return policy == BadRowPolicy::skip ? "skip" : "error";
}

bool is_plain_name(std::string_view name) {
  if (name.empty() || name.size() > 100 || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void check_split_name(const std::string& name, const std::string& where, const std::string& hint) {
  if (is_plain_name(name)) return;
  std::string shown;  // control characters shown as \xNN, so the message stays one line
  for (unsigned char c : name) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    shown += c < 0x20 || c == 0x7f ? std::string(hex) : std::string(1, static_cast<char>(c));
  }
  usage_fail(where, ": split name '", shown,
             "' is not a plain name: it becomes the output directory OUT/<split>/, so it must be "
             "1 to 100 characters of A-Z a-z 0-9 . _ - and not '.' or '..'",
             hint);
}

const SplitLayout* TaskSpec::find_split(std::string_view split) const {
  for (const auto& s : splits)
    if (s.split == split) return &s;
  return nullptr;
}

std::vector<std::string> TaskSpec::split_names() const {
  std::vector<std::string> names;
  for (const auto& s : splits) names.push_back(s.split);
  return names;
}

const TaskSpec* find_glue_task(std::string_view name) {
  for (const auto& t : all_tasks())
    if (simplified(t.name) == simplified(name)) return &t;
  return nullptr;
}

std::vector<std::string> glue_task_names() {
  std::vector<std::string> names;
  for (const auto& t : all_tasks()) names.push_back(t.name);
  return names;
}

}  // namespace pkd::glue
