#pragma once
// The order of training examples: identical on every rank, different every epoch, and
// addressable by (epoch, step) so a resumed run continues exactly where it stopped.
//
// Streaming: the split's shards are visited in a seeded order per epoch and grouped into
// windows of at least `window_examples` examples; a batch only draws from one window, so a
// trainer holds one window of shards in memory, not the split (a split smaller than a window is
// one window: a full shuffle). Within a window: a seeded shuffle; then, within chunks of
// `bucket_batches` global batches, a sort by length (so a batch holds examples of similar
// length and dynamic padding wastes little); the chunks are cut into global batches whose order
// is shuffled again. Each rank takes a contiguous slice of every global batch (sizes differ by
// at most one). The shuffles are written out (a Fisher-Yates over std::mt19937_64) so the order
// does not depend on the standard library.
#include <cstdint>
#include <vector>

namespace pkd::data {

struct SamplerOptions {
  std::int64_t global_batch_size = 32;  // examples per optimizer step, over all ranks
  std::uint64_t seed = 42;
  std::int64_t bucket_batches = 50;  // length-sorting window, in global batches (1 = no bucketing)
  std::int64_t window_examples = 0;  // examples per streaming window (0 = the whole split)
  bool drop_last = false;            // drop a window's final partial batch
};

// Not thread-safe: it caches the current epoch's plan.
class DistributedBatchSampler {
 public:
  // `lengths[i]` is the token count of example i; examples are numbered shard after shard and
  // `shard_sizes` (empty = one shard) gives the examples of each.
  DistributedBatchSampler(std::vector<std::int64_t> lengths, SamplerOptions options, int rank,
                          int world_size, std::vector<std::int64_t> shard_sizes = {});

  // Steps of `epoch`: the same for every epoch unless windows end with partial batches.
  std::int64_t steps_per_epoch(std::int64_t epoch = 0) const;
  // Steps of epochs [0, epochs).
  std::int64_t total_steps(std::int64_t epochs) const;
  // Global batch `step` of `epoch`: dataset indices, the same on every rank.
  std::vector<std::int64_t> global_batch(std::int64_t epoch, std::int64_t step) const;
  // This rank's share of it (possibly empty when the batch is smaller than the world).
  std::vector<std::int64_t> local_batch(std::int64_t epoch, std::int64_t step) const;
  // The shards of the window that global batch `step` of `epoch` draws from.
  const std::vector<std::int64_t>& window_shards(std::int64_t epoch, std::int64_t step) const;
  // Shard `shard`'s first example index.
  std::int64_t shard_begin(std::int64_t shard) const {
    return shard_begin_[static_cast<std::size_t>(shard)];
  }

 private:
  struct Plan {
    std::vector<std::vector<std::int64_t>> batches;
    std::vector<std::size_t> window_of_batch;
    std::vector<std::vector<std::int64_t>> windows;  // shard ids
  };
  const Plan& plan(std::int64_t epoch) const;
  const std::vector<std::int64_t>& checked_batch(std::int64_t epoch, std::int64_t step) const;

  std::vector<std::int64_t> lengths_;
  std::vector<std::int64_t> shard_begin_;  // [shards + 1]
  SamplerOptions options_;
  int rank_, world_size_;
  mutable std::int64_t planned_epoch_ = -1;
  mutable Plan plan_;
};

}  // namespace pkd::data
