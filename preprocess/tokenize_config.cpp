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
  // Upper bounds: these keys size buffers (a length histogram of max_seq_length + 1 entries,
  // padded batches later), so 2^32 is a message here rather than std::bad_alloc there.
  if (max_seq_length < 3 || max_seq_length > kMaxSeqLength)
    usage_fail("tokenize.max_seq_length must be in 3..", kMaxSeqLength,
               " tokens (at least [CLS] A [SEP]; BERT has 512 positions), got ", max_seq_length);
  if (max_seq_length > 512)
    log_warn("tokenize.max_seq_length = ", max_seq_length, " exceeds BERT's 512 positions");
  if (shard_size < 1 || shard_size > kMaxShardSize)
    usage_fail("tokenize.shard_size must be in 1..", kMaxShardSize, " examples, got ", shard_size);
  if (!on_bad_row.empty()) glue::parse_bad_row_policy(on_bad_row);
  for (const auto& s : splits) glue::check_split_name(s, "tokenize.splits");
}

glue::TaskSpec TokenizeConfig::resolve_task(const std::vector<std::string>& split_names) const {
  if (task == "custom") return custom.to_task(split_names);
  return *glue::find_glue_task(task);
}

glue::BadRowPolicy TokenizeConfig::bad_row_policy(const glue::TaskSpec& t) const {
  return on_bad_row.empty() ? t.default_bad_row_policy : glue::parse_bad_row_policy(on_bad_row);
}

}  // namespace pkd::preprocess
