#pragma once
// HDF5 token shard, format "pkd.token_shard" version 1 (docs/formats.md). One shard holds a
// contiguous run of one split's examples, ragged and unpadded: example k is
// input_ids[offsets[k]:offsets[k+1]].
#include <cstdint>
#include <string>
#include <vector>

#include "shards/h5.h"

namespace pkd::shards {

inline constexpr const char* kTokenShardFormat = "pkd.token_shard";
inline constexpr std::int64_t kTokenShardVersion = 1;

struct TokenShardHeader {
  std::string task, split;
  std::vector<std::string> label_names;  // empty for regression
  bool regression = false;
  std::string settings_json;  // everything a re-run must match, as one JSON object
  std::string vocab_sha256;
  std::int64_t vocab_size = 0;
  bool do_lower_case = true;
  bool strip_accents = true;
  std::int64_t max_seq_length = 0;
  std::string truncation_rule;
  std::string source_file, source_sha256;
  std::int64_t shard_index = 0;
  std::int64_t first_example = 0;  // position of this shard's first example in the split
  std::int64_t num_examples = 0, num_tokens = 0, num_truncated = 0;
  std::vector<std::int64_t> length_histogram;  // [max_seq_length+1]: examples per length
  std::string tool_version, created_utc;
};

struct TokenShard {
  TokenShardHeader header;
  std::vector<std::int32_t> input_ids;      // [num_tokens]
  std::vector<std::int8_t> token_type_ids;  // [num_tokens], 0 or 1
  std::vector<std::int64_t> offsets;        // [num_examples+1], offsets[0] = 0
  std::vector<std::int64_t> labels;         // [num_examples] class ids, -1 = unlabeled
  std::vector<float> scores;                // [num_examples] regression targets, NaN = unlabeled
  std::vector<std::int64_t> example_ids;    // [num_examples] 0-based data row in the source

  std::int64_t size() const { return static_cast<std::int64_t>(example_ids.size()); }
};

// Writes to a temporary name beside `path` and renames it into place when complete.
void write_token_shard(const std::string& path, const TokenShard& shard);
// Attributes only: the format name and version, and every count within sane bounds.
TokenShardHeader read_token_shard_header(const h5::File& file);
// Everything, with consistency checks (dataset shapes against the attributes before reading,
// lengths, offsets, token/label ranges, increasing example ids).
TokenShard read_token_shard(const h5::File& file);
// The same from a path, unverified: for a shard no manifest lists yet (tokenize's own partial
// output). Shards of a split are read through shards/verify.h.
TokenShardHeader read_token_shard_header(const std::string& path);
TokenShard read_token_shard(const std::string& path);

// UTC time as ISO 8601, for created_utc attributes.
std::string utc_now();

}  // namespace pkd::shards
