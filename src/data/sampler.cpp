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
                                                 SamplerOptions options, int rank, int world_size,
                                                 std::vector<std::int64_t> shard_sizes)
    : lengths_(std::move(lengths)), options_(options), rank_(rank), world_size_(world_size) {
  if (options_.global_batch_size < 1)
    usage_fail("the global batch size must be at least 1, got ", options_.global_batch_size);
  if (options_.bucket_batches < 1)
    usage_fail("bucket_batches must be at least 1, got ", options_.bucket_batches);
  if (options_.window_examples < 0)
    usage_fail("window_examples must be 0 (whole split) or positive, got ",
               options_.window_examples);
  if (world_size_ < 1 || rank_ < 0 || rank_ >= world_size_)
    fail("sampler: rank ", rank_, " of ", world_size_);
  if (lengths_.empty()) fail("sampler: the training split has no examples");
  if (shard_sizes.empty()) shard_sizes = {static_cast<std::int64_t>(lengths_.size())};
  shard_begin_ = {0};
  for (auto n : shard_sizes) shard_begin_.push_back(shard_begin_.back() + n);
  if (shard_begin_.back() != static_cast<std::int64_t>(lengths_.size()))
    fail("sampler: the shards hold ", shard_begin_.back(), " examples, the lengths ",
         lengths_.size());
  if (options_.drop_last && steps_per_epoch(0) == 0)
    usage_fail("drop_last with a global batch of ", options_.global_batch_size,
               " leaves no batch of the ", lengths_.size(), " training examples");
}

std::int64_t DistributedBatchSampler::steps_per_epoch(std::int64_t epoch) const {
  return static_cast<std::int64_t>(plan(epoch).batches.size());
}

std::int64_t DistributedBatchSampler::total_steps(std::int64_t epochs) const {
  std::int64_t total = 0;
  for (std::int64_t e = 0; e < epochs; ++e) total += steps_per_epoch(e);
  return total;
}

const DistributedBatchSampler::Plan& DistributedBatchSampler::plan(std::int64_t epoch) const {
  if (epoch == planned_epoch_) return plan_;
  std::mt19937_64 rng(options_.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(epoch));
  const auto shards = static_cast<std::int64_t>(shard_begin_.size()) - 1;
  std::vector<std::int64_t> shard_order(static_cast<std::size_t>(shards));
  std::iota(shard_order.begin(), shard_order.end(), 0);
  const bool whole = options_.window_examples == 0 ||
                     options_.window_examples >= static_cast<std::int64_t>(lengths_.size());
  if (!whole) fisher_yates(shard_order, rng);
  plan_ = Plan{};
  const auto b = static_cast<std::size_t>(options_.global_batch_size);
  const std::size_t chunk = b * static_cast<std::size_t>(options_.bucket_batches);
  for (std::size_t first_shard = 0; first_shard < shard_order.size();) {
    std::vector<std::int64_t> window, order;
    while (first_shard < shard_order.size() &&
           (whole || static_cast<std::int64_t>(order.size()) < options_.window_examples)) {
      const auto s = static_cast<std::size_t>(shard_order[first_shard++]);
      window.push_back(static_cast<std::int64_t>(s));
      for (auto k = shard_begin_[s]; k < shard_begin_[s + 1]; ++k) order.push_back(k);
    }
    fisher_yates(order, rng);
    for (std::size_t start = 0; start < order.size(); start += chunk) {
      auto first = order.begin() + static_cast<long>(start);
      auto last = order.begin() + static_cast<long>(std::min(order.size(), start + chunk));
      std::stable_sort(first, last, [&](auto x, auto y) {
        return lengths_[static_cast<std::size_t>(x)] < lengths_[static_cast<std::size_t>(y)];
      });
    }
    std::vector<std::vector<std::int64_t>> batches;
    for (std::size_t start = 0; start < order.size(); start += b) {
      std::size_t end = std::min(order.size(), start + b);
      if (options_.drop_last && end - start < b) break;
      batches.emplace_back(order.begin() + static_cast<long>(start),
                           order.begin() + static_cast<long>(end));
    }
    fisher_yates(batches, rng);
    for (auto& batch : batches) {
      plan_.batches.push_back(std::move(batch));
      plan_.window_of_batch.push_back(plan_.windows.size());
    }
    plan_.windows.push_back(std::move(window));
  }
  planned_epoch_ = epoch;
  return plan_;
}

const std::vector<std::int64_t>& DistributedBatchSampler::checked_batch(std::int64_t epoch,
                                                                        std::int64_t step) const {
  const auto& p = plan(epoch);
  if (step < 0 || step >= static_cast<std::int64_t>(p.batches.size()))
    fail("sampler: step ", step, " is outside epoch ", epoch, " (", p.batches.size(), " steps)");
  return p.batches[static_cast<std::size_t>(step)];
}

std::vector<std::int64_t> DistributedBatchSampler::global_batch(std::int64_t epoch,
                                                                std::int64_t step) const {
  return checked_batch(epoch, step);
}

std::vector<std::int64_t> DistributedBatchSampler::local_batch(std::int64_t epoch,
                                                               std::int64_t step) const {
  const auto& g = checked_batch(epoch, step);
  const std::size_t n = g.size(), w = static_cast<std::size_t>(world_size_),
                    r = static_cast<std::size_t>(rank_);
  return std::vector<std::int64_t>(g.begin() + static_cast<long>(r * n / w),
                                   g.begin() + static_cast<long>((r + 1) * n / w));
}

const std::vector<std::int64_t>& DistributedBatchSampler::window_shards(std::int64_t epoch,
                                                                        std::int64_t step) const {
  checked_batch(epoch, step);
  const auto& p = plan(epoch);
  return p.windows[p.window_of_batch[static_cast<std::size_t>(step)]];
}

}  // namespace pkd::data
