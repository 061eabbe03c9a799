#pragma once
// OUT/<split>/manifest.json, format "pkd.token_manifest" version 1 (docs/formats.md): the list
// of a split's complete shards, written last, so its presence means the split is complete.
#include <cstdint>
#include <string>
#include <vector>

namespace pkd::shards {

inline constexpr const char* kManifestFormat = "pkd.token_manifest";
inline constexpr std::int64_t kManifestVersion = 1;
inline constexpr const char* kManifestName = "manifest.json";

struct ManifestShard {
  std::string file;  // relative to the split directory
  std::int64_t num_examples = 0, num_tokens = 0, first_example = 0;
  std::string sha256;
};

struct TokenManifest {
  std::string task, split, tool_version, created_utc;
  std::string settings_json;
  std::vector<std::string> label_names;
  bool regression = false;
  std::int64_t num_examples = 0, num_tokens = 0, num_truncated = 0;
  std::vector<std::int64_t> skipped_lines;
  std::vector<std::int64_t> length_histogram;
  std::vector<ManifestShard> shards;
};

std::string manifest_path(const std::string& split_dir);
void write_manifest(const std::string& split_dir, const TokenManifest& manifest);
// Throws Error naming the file for a missing, malformed or foreign manifest.
TokenManifest read_manifest(const std::string& split_dir);

// Human-readable differences between two settings objects (JSON): "max_seq_length: 128 -> 64".
std::vector<std::string> diff_settings(const std::string& existing_json,
                                       const std::string& wanted_json);

// "shard-00042.h5"
std::string shard_file_name(std::int64_t index);

}  // namespace pkd::shards
