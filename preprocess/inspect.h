#pragma once
// `pkd inspect PATH`: a human summary of token shards (a tokenize output directory, one split
// directory or one shard file), and example k decoded back to WordPiece text; or of a teacher
// feature split (`pkd cache-teacher` output).
#include <cstdint>
#include <optional>
#include <string>

namespace pkd::preprocess {

struct InspectOptions {
  std::string path;
  std::optional<std::int64_t> example;  // dump this example of the split (0-based)
  std::string vocab;                    // to decode ids; default: OUT/vocab.txt beside the split
};

// Returns the report text; throws Error for anything that is not pkd token or feature output.
std::string inspect(const InspectOptions& options);

// A `pkd cache-teacher` split (its manifest.json says so), and its summary: what it holds, and
// its disk use in all, by part and per million tokens (inspect_features.cpp).
bool is_feature_split(const std::string& dir);
std::string inspect_features(const std::string& dir);

}  // namespace pkd::preprocess
