#pragma once
// `pkd inspect PATH`: a human summary of token shards (a tokenize output directory, one split
// directory or one shard file), and example k decoded back to WordPiece text.
#include <cstdint>
#include <optional>
#include <string>

namespace pkd::preprocess {

struct InspectOptions {
  std::string path;
  std::optional<std::int64_t> example;  // dump this example of the split (0-based)
  std::string vocab;                    // to decode ids; default: OUT/vocab.txt beside the split
};

// Returns the report text; throws Error for anything that is not pkd token output.
std::string inspect(const InspectOptions& options);

}  // namespace pkd::preprocess
