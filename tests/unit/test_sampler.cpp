#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "data/sampler.h"

namespace pkd::data {
namespace {

std::vector<std::int64_t> random_lengths(std::size_t n) {
  std::mt19937 rng(7);
  std::vector<std::int64_t> lengths(n);
  for (auto& l : lengths) l = 3 + static_cast<std::int64_t>(rng() % 120);
  return lengths;
}

TEST(Sampler, EveryExampleOncePerEpochAndRanksPartitionEachBatch) {
  const auto lengths = random_lengths(1003);
  SamplerOptions o;
  o.global_batch_size = 32;
  DistributedBatchSampler r0(lengths, o, 0, 3), r1(lengths, o, 1, 3), r2(lengths, o, 2, 3);
  ASSERT_EQ(r0.steps_per_epoch(), 32);  // 31 full batches + 11
  std::vector<std::int64_t> seen;
  for (std::int64_t step = 0; step < r0.steps_per_epoch(); ++step) {
    auto a = r0.local_batch(0, step), b = r1.local_batch(0, step), c = r2.local_batch(0, step);
    EXPECT_LE(std::max({a.size(), b.size(), c.size()}) - std::min({a.size(), b.size(), c.size()}),
              1u);
    std::vector<std::int64_t> joined = a;
    joined.insert(joined.end(), b.begin(), b.end());
    joined.insert(joined.end(), c.begin(), c.end());
    EXPECT_EQ(joined, r0.global_batch(0, step));  // every rank sees the same global batch
    EXPECT_EQ(r1.global_batch(0, step), r0.global_batch(0, step));
    seen.insert(seen.end(), joined.begin(), joined.end());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<std::int64_t> all(1003);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(seen, all);
}

TEST(Sampler, DeterministicPerSeedAndEpochAndResumable) {
  const auto lengths = random_lengths(500);
  SamplerOptions o;
  DistributedBatchSampler a(lengths, o, 0, 1), b(lengths, o, 0, 1);
  EXPECT_EQ(a.global_batch(3, 5),
            b.global_batch(3, 5));  // a fresh sampler jumps straight to (3, 5)
  EXPECT_NE(a.global_batch(0, 0), a.global_batch(1, 0));
  o.seed = 43;
  DistributedBatchSampler c(lengths, o, 0, 1);
  EXPECT_NE(c.global_batch(0, 0), a.global_batch(0, 0));
}

TEST(Sampler, LengthBucketsCutPadding) {
  const auto lengths = random_lengths(4000);
  auto padded_tokens = [&](std::int64_t bucket_batches) {
    SamplerOptions o;
    o.bucket_batches = bucket_batches;
    DistributedBatchSampler s(lengths, o, 0, 1);
    std::int64_t total = 0;
    for (std::int64_t step = 0; step < s.steps_per_epoch(); ++step) {
      const auto batch = s.global_batch(0, step);
      std::int64_t longest = 0;
      for (auto i : batch) longest = std::max(longest, lengths[static_cast<std::size_t>(i)]);
      total += longest * static_cast<std::int64_t>(batch.size());
    }
    return total;
  };
  const std::int64_t real = std::accumulate(lengths.begin(), lengths.end(), std::int64_t{0});
  EXPECT_GT(padded_tokens(1), 1.6 * real);   // random batches: mostly padding
  EXPECT_LT(padded_tokens(50), 1.1 * real);  // bucketed: almost none
}

TEST(Sampler, DropLastAndBadOptions) {
  SamplerOptions o;
  o.global_batch_size = 10;
  o.drop_last = true;
  DistributedBatchSampler s(random_lengths(25), o, 0, 2);
  EXPECT_EQ(s.steps_per_epoch(), 2);
  EXPECT_THROW(s.global_batch(0, 2), Error);
  o.global_batch_size = 0;
  EXPECT_THROW(DistributedBatchSampler(random_lengths(5), o, 0, 1), UsageError);
}

// Streaming: every batch draws from one window of shards, windows hold at least
// window_examples (but the last), every example comes once per epoch, the shard order changes
// between epochs, and total_steps sums the epochs.
TEST(Sampler, WindowsOfShardsBoundWhatABatchTouches) {
  const std::vector<std::int64_t> sizes = {30, 25, 40, 10, 35};  // 140 examples in 5 shards
  const auto lengths = random_lengths(140);
  SamplerOptions o;
  o.global_batch_size = 8;
  o.window_examples = 50;
  DistributedBatchSampler s(lengths, o, 0, 1, sizes);
  std::vector<std::int64_t> begin = {0};
  for (auto n : sizes) begin.push_back(begin.back() + n);
  auto shard_of = [&](std::int64_t e) {
    return static_cast<std::int64_t>(std::upper_bound(begin.begin(), begin.end(), e) -
                                     begin.begin()) -
           1;
  };
  std::vector<std::vector<std::int64_t>> first_windows;
  std::int64_t total = 0;
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<std::int64_t> seen;
    std::vector<std::vector<std::int64_t>> windows;
    for (std::int64_t step = 0; step < s.steps_per_epoch(epoch); ++step) {
      const auto& window = s.window_shards(epoch, step);
      if (windows.empty() || windows.back() != window) windows.push_back(window);
      for (auto e : s.global_batch(epoch, step)) {
        EXPECT_TRUE(seen.insert(e).second);
        EXPECT_NE(std::find(window.begin(), window.end(), shard_of(e)), window.end());
      }
    }
    EXPECT_EQ(seen.size(), 140u);
    std::set<std::int64_t> shards;
    for (std::size_t w = 0; w < windows.size(); ++w) {
      std::int64_t n = 0;
      for (auto sh : windows[w]) {
        EXPECT_TRUE(shards.insert(sh).second);
        n += sizes[static_cast<std::size_t>(sh)];
      }
      if (w + 1 < windows.size()) {
        EXPECT_GE(n, 50);
      }
    }
    EXPECT_EQ(shards.size(), 5u);
    if (epoch == 0) {
      first_windows = windows;
    } else {
      EXPECT_NE(windows, first_windows);  // the shard order is shuffled per epoch
    }
    total += s.steps_per_epoch(epoch);
  }
  EXPECT_EQ(s.total_steps(3), total);
}

}  // namespace
}  // namespace pkd::data
