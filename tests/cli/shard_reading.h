#pragma once
// Reading a `pkd tokenize` split directory back, example by example, for CLI tests.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "shards/manifest.h"
#include "shards/token_shard.h"

namespace pkd::test {

struct ReadExample {
  std::vector<std::int32_t> input_ids;
  std::vector<std::int32_t> token_type_ids;
  std::int64_t label = -1;
};

// All examples of a split keyed by source row (example_ids), through the manifest.
inline std::map<std::int64_t, ReadExample> read_split_examples(const std::string& dir) {
  std::map<std::int64_t, ReadExample> out;
  shards::TokenManifest m = shards::read_manifest(dir);
  for (const auto& entry : m.shards) {
    shards::TokenShard s = shards::read_token_shard(dir + "/" + entry.file);
    for (std::size_t k = 0; k < static_cast<std::size_t>(s.size()); ++k) {
      ReadExample e;
      for (auto i = s.offsets[k]; i < s.offsets[k + 1]; ++i) {
        e.input_ids.push_back(s.input_ids[static_cast<std::size_t>(i)]);
        e.token_type_ids.push_back(s.token_type_ids[static_cast<std::size_t>(i)]);
      }
      if (!s.header.regression) e.label = s.labels[k];
      out[s.example_ids[k]] = e;
    }
  }
  return out;
}

}  // namespace pkd::test
