#pragma once
// Tokenizes a contiguous run of a split's examples into one in-memory token shard.
#include <cstdint>

#include "glue/split_reader.h"
#include "shards/token_shard.h"
#include "text/sequence_encoder.h"

namespace pkd::preprocess {

// Encodes examples [first, first+count) of `data` into `shard` (datasets and the counting
// attributes; the caller fills the provenance attributes). Errors name the file and line.
void build_token_shard(const glue::SplitData& data, std::int64_t first, std::int64_t count,
                       const text::SequenceEncoder& encoder, shards::TokenShard& shard);

}  // namespace pkd::preprocess
