#pragma once
// [tokenize]: `pkd tokenize` turns a task's TSV files into HDF5 token shards.
#include <cstdint>
#include <string>
#include <vector>

#include "glue/custom_task.h"
#include "glue/tasks.h"

namespace pkd::preprocess {

// Hard upper bounds of [tokenize] (tokenize_config.cpp says why): 16x BERT's 512 positions, and
// 2^24 examples per shard (GLUE's largest split, MNLI train, has 393k).
constexpr std::int64_t kMaxSeqLength = 8192;
constexpr std::int64_t kMaxShardSize = std::int64_t{1} << 24;

struct TokenizeConfig {
  std::string task;  // GLUE task (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI) or custom
  std::string data_dir;               // directory holding the task's TSV files
  std::string vocab;                  // WordPiece vocab.txt
  std::string out;                    // output directory: OUT/<split>/shard-NNNNN.h5
  std::int64_t max_seq_length = 128;  // tokens, including [CLS] and [SEP]
  std::int64_t shard_size = 8192;     // examples per shard
  bool lowercase = true;              // uncased model (lower-case + strip accents)
  std::vector<std::string> splits;    // split names to tokenize; empty = every split file found
  std::string on_bad_row;             // "error" | "skip"; "" = the task's default
  bool overwrite = false;             // replace existing shards made with other settings
  glue::CustomTaskConfig custom;      // [tokenize.custom], for task = "custom"

  template <class V>
  void visit(V& v) {
    v.field("task", task,
            "GLUE task name (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI) or custom");
    v.field("data_dir", data_dir, "directory with the task's TSV files (train.tsv, dev.tsv, ...)");
    v.field("vocab", vocab, "WordPiece vocab.txt of the model");
    v.field("out", out, "output directory; shards go to OUT/<split>/");
    v.field("max_seq_length", max_seq_length,
            "tokens per example incl. [CLS]/[SEP] (3..8192); longer pairs are truncated");
    v.field("shard_size", shard_size, "examples per HDF5 shard (1..2^24)");
    v.field("lowercase", lowercase, "lower-case and strip accents (uncased models)");
    v.field("splits", splits, "splits to tokenize (file stems); empty = all found");
    v.field("on_bad_row", on_bad_row,
            "malformed rows: \"error\" or \"skip\" (\"\" = task default: skip for QQP)");
    v.field("overwrite", overwrite, "replace existing output made with different settings");
    v.table("custom", custom, "Column layout of task = \"custom\" data");
  }

  // Checks required keys and ranges; throws UsageError naming the key.
  void validate() const;
  // The task spec: a GLUE task, or the custom layout for the given split names.
  glue::TaskSpec resolve_task(const std::vector<std::string>& split_names) const;
  glue::BadRowPolicy bad_row_policy(const glue::TaskSpec& task) const;
};

}  // namespace pkd::preprocess
