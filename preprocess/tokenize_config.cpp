#include "preprocess/tokenize_config.h"

#include "core/error.h"
#include "core/log.h"

namespace pkd::preprocess {

void TokenizeConfig::validate() const {
  auto require = [](const std::string& value, const char* key, const char* what) {
    if (value.empty()) usage_fail("tokenize.", key, " is required: ", what, " (--", key, ")");
  };
  require(task, "task", "the GLUE task or \"custom\"");
  require(data_dir, "data_dir", "the directory with the TSV files");
  require(vocab, "vocab", "the WordPiece vocab.txt");
  require(out, "out", "the output directory");
  if (task != "custom" && !glue::find_glue_task(task)) {
    auto names = glue::glue_task_names();
    usage_fail("unknown task '", task, "'", did_you_mean(task, names), ": expected one of ",
               join(names, ", "), " or custom");
  }
  if (max_seq_length < 3)
    usage_fail("tokenize.max_seq_length must be at least 3 ([CLS] A [SEP] B [SEP]), got ",
               max_seq_length);
  if (max_seq_length > 512)
    log_warn("tokenize.max_seq_length = ", max_seq_length, " exceeds BERT's 512 positions");
  if (shard_size < 1)
    usage_fail("tokenize.shard_size must be at least 1 example, got ", shard_size);
  if (!on_bad_row.empty()) glue::parse_bad_row_policy(on_bad_row);
}

glue::TaskSpec TokenizeConfig::resolve_task(const std::vector<std::string>& split_names) const {
  if (task == "custom") return custom.to_task(split_names);
  return *glue::find_glue_task(task);
}

glue::BadRowPolicy TokenizeConfig::bad_row_policy(const glue::TaskSpec& t) const {
  return on_bad_row.empty() ? t.default_bad_row_policy : glue::parse_bad_row_policy(on_bad_row);
}

}  // namespace pkd::preprocess
