#include "data/batching.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "shards/manifest.h"

namespace pkd::data {

shards::TokenShard load_split(const std::string& dir) {
  shards::TokenManifest manifest = shards::read_manifest(dir);
  shards::TokenShard all;
  all.offsets = {0};
  for (std::size_t i = 0; i < manifest.shards.size(); ++i) {
    shards::TokenShard s = shards::read_token_shard(dir + "/" + manifest.shards[i].file);
    if (i == 0) all.header = s.header;
    const std::int64_t base = all.offsets.back();
    for (std::size_t k = 1; k < s.offsets.size(); ++k) all.offsets.push_back(base + s.offsets[k]);
    all.input_ids.insert(all.input_ids.end(), s.input_ids.begin(), s.input_ids.end());
    all.token_type_ids.insert(all.token_type_ids.end(), s.token_type_ids.begin(),
                              s.token_type_ids.end());
    all.labels.insert(all.labels.end(), s.labels.begin(), s.labels.end());
    all.scores.insert(all.scores.end(), s.scores.begin(), s.scores.end());
    all.example_ids.insert(all.example_ids.end(), s.example_ids.begin(), s.example_ids.end());
  }
  all.header.first_example = 0;
  all.header.num_examples = static_cast<std::int64_t>(all.example_ids.size());
  all.header.num_tokens = static_cast<std::int64_t>(all.input_ids.size());
  return all;
}

std::vector<std::vector<std::int64_t>> length_sorted_batches(const shards::TokenShard& shard,
                                                             std::int64_t batch_size) {
  if (batch_size < 1) fail("batch size must be at least 1, got ", batch_size);
  std::vector<std::int64_t> order(static_cast<std::size_t>(shard.size()));
  std::iota(order.begin(), order.end(), 0);
  auto length = [&](std::int64_t k) {
    return shard.offsets[static_cast<std::size_t>(k) + 1] -
           shard.offsets[static_cast<std::size_t>(k)];
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](auto a, auto b) { return length(a) < length(b); });
  std::vector<std::vector<std::int64_t>> batches;
  for (std::size_t i = 0; i < order.size(); i += static_cast<std::size_t>(batch_size))
    batches.emplace_back(
        order.begin() + static_cast<long>(i),
        order.begin() +
            static_cast<long>(std::min(order.size(), i + static_cast<std::size_t>(batch_size))));
  return batches;
}

Batch collate(const shards::TokenShard& shard, const std::vector<std::int64_t>& rows) {
  std::int64_t longest = 0;
  for (auto k : rows)
    longest = std::max(longest, shard.offsets[static_cast<std::size_t>(k) + 1] -
                                    shard.offsets[static_cast<std::size_t>(k)]);
  const auto b = static_cast<std::int64_t>(rows.size());
  Batch batch;
  batch.input_ids = torch::zeros({b, longest}, torch::kLong);
  batch.token_type_ids = torch::zeros({b, longest}, torch::kLong);
  batch.attention_mask = torch::zeros({b, longest}, torch::kLong);
  auto ids = batch.input_ids.accessor<std::int64_t, 2>();
  auto types = batch.token_type_ids.accessor<std::int64_t, 2>();
  auto mask = batch.attention_mask.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < b; ++i) {
    const auto k = static_cast<std::size_t>(rows[static_cast<std::size_t>(i)]);
    const std::int64_t begin = shard.offsets[k], end = shard.offsets[k + 1];
    for (std::int64_t t = begin; t < end; ++t) {
      ids[i][t - begin] = shard.input_ids[static_cast<std::size_t>(t)];
      types[i][t - begin] = shard.token_type_ids[static_cast<std::size_t>(t)];
      mask[i][t - begin] = 1;
    }
  }
  if (shard.header.regression) {
    batch.labels = torch::empty({b}, torch::kFloat);
    for (std::int64_t i = 0; i < b; ++i)
      batch.labels[i] = shard.scores[static_cast<std::size_t>(rows[static_cast<std::size_t>(i)])];
  } else {
    batch.labels = torch::empty({b}, torch::kLong);
    auto labels = batch.labels.accessor<std::int64_t, 1>();
    for (std::int64_t i = 0; i < b; ++i)
      labels[i] = shard.labels[static_cast<std::size_t>(rows[static_cast<std::size_t>(i)])];
  }
  batch.rows = rows;
  return batch;
}

}  // namespace pkd::data
