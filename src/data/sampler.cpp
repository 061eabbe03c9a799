#include "data/sampler.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"

namespace pkd::data {
namespace {

template <class T>
void fisher_yates(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

}  // namespace

DistributedBatchSampler::DistributedBatchSampler(std::vector<std::int64_t> lengths,
                                                 SamplerOptions options, int rank, int world_size)
    : lengths_(std::move(lengths)), options_(options), rank_(rank), world_size_(world_size) {
  if (options_.global_batch_size < 1)
    usage_fail("the global batch size must be at least 1, got ", options_.global_batch_size);
  if (options_.bucket_batches < 1)
    usage_fail("bucket_batches must be at least 1, got ", options_.bucket_batches);
  if (world_size_ < 1 || rank_ < 0 || rank_ >= world_size_)
    fail("sampler: rank ", rank_, " of ", world_size_);
  if (lengths_.empty()) fail("sampler: the training split has no examples");
  if (options_.drop_last && static_cast<std::int64_t>(lengths_.size()) < options_.global_batch_size)
    usage_fail("drop_last with a global batch of ", options_.global_batch_size,
               " leaves no batch of the ", lengths_.size(), " training examples");
}

std::int64_t DistributedBatchSampler::steps_per_epoch() const {
  const auto n = static_cast<std::int64_t>(lengths_.size()), b = options_.global_batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

const std::vector<std::vector<std::int64_t>>& DistributedBatchSampler::plan(
    std::int64_t epoch) const {
  if (epoch == planned_epoch_) return batches_;
  std::mt19937_64 rng(options_.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(epoch));
  std::vector<std::int64_t> order(lengths_.size());
  std::iota(order.begin(), order.end(), 0);
  fisher_yates(order, rng);
  const auto b = static_cast<std::size_t>(options_.global_batch_size);
  const std::size_t chunk = b * static_cast<std::size_t>(options_.bucket_batches);
  for (std::size_t start = 0; start < order.size(); start += chunk) {
    auto first = order.begin() + static_cast<long>(start);
    auto last = order.begin() + static_cast<long>(std::min(order.size(), start + chunk));
    std::stable_sort(first, last, [&](auto x, auto y) {
      return lengths_[static_cast<std::size_t>(x)] < lengths_[static_cast<std::size_t>(y)];
    });
  }
  batches_.clear();
  for (std::size_t start = 0; start < order.size(); start += b) {
    std::size_t end = std::min(order.size(), start + b);
    if (options_.drop_last && end - start < b) break;
    batches_.emplace_back(order.begin() + static_cast<long>(start),
                          order.begin() + static_cast<long>(end));
  }
  fisher_yates(batches_, rng);
  planned_epoch_ = epoch;
  return batches_;
}

std::vector<std::int64_t> DistributedBatchSampler::global_batch(std::int64_t epoch,
                                                                std::int64_t step) const {
  const auto& batches = plan(epoch);
  if (step < 0 || step >= static_cast<std::int64_t>(batches.size()))
    fail("sampler: step ", step, " is outside epoch ", epoch, " (", batches.size(), " steps)");
  return batches[static_cast<std::size_t>(step)];
}

std::vector<std::int64_t> DistributedBatchSampler::local_batch(std::int64_t epoch,
                                                               std::int64_t step) const {
  const auto g = global_batch(epoch, step);
  const std::size_t n = g.size(), w = static_cast<std::size_t>(world_size_),
                    r = static_cast<std::size_t>(rank_);
  return std::vector<std::int64_t>(g.begin() + static_cast<long>(r * n / w),
                                   g.begin() + static_cast<long>((r + 1) * n / w));
}

}  // namespace pkd::data
