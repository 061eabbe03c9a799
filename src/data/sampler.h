#pragma once
// The order of training examples: identical on every rank, different every epoch, and
// addressable by (epoch, step) so a resumed run continues exactly where it stopped.
// Per epoch: a seeded shuffle; then, within chunks of `bucket_batches` global batches, a sort by
// length (so a batch holds examples of similar length and dynamic padding wastes little); the
// chunks are cut into global batches whose order is shuffled again. Each rank takes a contiguous
// slice of every global batch (sizes differ by at most one). The shuffles are written out (a
// Fisher-Yates over std::mt19937_64) so the order does not depend on the standard library.
#include <cstdint>
#include <vector>

namespace pkd::data {

struct SamplerOptions {
  std::int64_t global_batch_size = 32;  // examples per optimizer step, over all ranks
  std::uint64_t seed = 42;
  std::int64_t bucket_batches = 50;  // length-sorting window, in global batches (1 = no bucketing)
  bool drop_last = false;            // drop a final partial batch
};

// Not thread-safe: it caches the current epoch's plan.
class DistributedBatchSampler {
 public:
  // `lengths[i]` is the token count of example i.
  DistributedBatchSampler(std::vector<std::int64_t> lengths, SamplerOptions options, int rank,
                          int world_size);

  std::int64_t steps_per_epoch() const;
  // Global batch `step` of `epoch`: dataset indices, the same on every rank.
  std::vector<std::int64_t> global_batch(std::int64_t epoch, std::int64_t step) const;
  // This rank's share of it (possibly empty when the batch is smaller than the world).
  std::vector<std::int64_t> local_batch(std::int64_t epoch, std::int64_t step) const;

 private:
  const std::vector<std::vector<std::int64_t>>& plan(std::int64_t epoch) const;

  std::vector<std::int64_t> lengths_;
  SamplerOptions options_;
  int rank_, world_size_;
  mutable std::int64_t planned_epoch_ = -1;
  mutable std::vector<std::vector<std::int64_t>> batches_;
};

}  // namespace pkd::data
