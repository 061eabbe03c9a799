#include "data/batching.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace pkd::data {

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
  std::vector<ExampleRef> refs;
  refs.reserve(rows.size());
  for (auto k : rows) refs.push_back({&shard, k});
  Batch batch = collate(refs);
  batch.rows = rows;
  return batch;
}

Batch collate(const std::vector<ExampleRef>& examples) {
  auto begin_of = [](const ExampleRef& e) {
    return e.shard->offsets[static_cast<std::size_t>(e.row)];
  };
  auto end_of = [](const ExampleRef& e) {
    return e.shard->offsets[static_cast<std::size_t>(e.row) + 1];
  };
  std::int64_t longest = 0;
  for (const auto& e : examples) longest = std::max(longest, end_of(e) - begin_of(e));
  const auto b = static_cast<std::int64_t>(examples.size());
  const bool regression = !examples.empty() && examples[0].shard->header.regression;
  Batch batch;
  batch.input_ids = torch::zeros({b, longest}, torch::kLong);
  batch.token_type_ids = torch::zeros({b, longest}, torch::kLong);
  batch.attention_mask = torch::zeros({b, longest}, torch::kLong);
  batch.labels = torch::empty({b}, regression ? torch::kFloat : torch::kLong);
  auto ids = batch.input_ids.accessor<std::int64_t, 2>();
  auto types = batch.token_type_ids.accessor<std::int64_t, 2>();
  auto mask = batch.attention_mask.accessor<std::int64_t, 2>();
  for (std::int64_t i = 0; i < b; ++i) {
    const ExampleRef& e = examples[static_cast<std::size_t>(i)];
    const shards::TokenShard& s = *e.shard;
    const std::int64_t begin = begin_of(e), end = end_of(e);
    for (std::int64_t t = begin; t < end; ++t) {
      ids[i][t - begin] = s.input_ids[static_cast<std::size_t>(t)];
      types[i][t - begin] = s.token_type_ids[static_cast<std::size_t>(t)];
      mask[i][t - begin] = 1;
    }
    const auto row = static_cast<std::size_t>(e.row);
    if (regression)
      batch.labels.data_ptr<float>()[i] = s.scores[row];
    else
      batch.labels.data_ptr<std::int64_t>()[i] = s.labels[row];
  }
  return batch;
}

namespace {

// The dimensions that run over tokens of each of Batch::tensors(): [B, T] inputs, labels and
// teacher logits and [CLS] rows (none), [L, B, T, H] hidden states, [L, B, heads, T, T] maps.
const std::array<std::vector<std::int64_t>, Batch::kTensors> kTokenDims = {
    {{1}, {1}, {1}, {}, {}, {}, {2}, {3, 4}}};

}  // namespace

Batch padded_like(const Batch& b, std::int64_t length, torch::Device device) {
  if (length < b.input_ids.size(1))
    fail("internal: padding a batch of ", b.input_ids.size(1), " tokens to ", length);
  Batch out;
  const auto from = b.tensors();
  const auto to = out.tensors();
  for (std::size_t k = 0; k < Batch::kTensors; ++k) {
    if (!from[k]->defined()) continue;
    std::vector<std::int64_t> shape = from[k]->sizes().vec();
    for (auto d : kTokenDims[k]) shape[static_cast<std::size_t>(d)] = length;
    *to[k] = torch::zeros(shape, from[k]->options().device(device).pinned_memory(false));
  }
  return out;
}

void copy_padded(const Batch& from, Batch& into) {
  const auto sources = from.tensors();
  const auto targets = into.tensors();
  for (std::size_t k = 0; k < Batch::kTensors; ++k) {
    const torch::Tensor& a = *sources[k];
    torch::Tensor& b = *targets[k];
    if (a.defined() != b.defined() || (a.defined() && a.dim() != b.dim()))
      fail("internal: copy_padded between batches of other fields");
    if (!a.defined()) continue;
    torch::Tensor target = b;
    for (auto d : kTokenDims[k]) target = target.narrow(d, 0, a.size(d));
    if (target.sizes() != a.sizes())
      fail("internal: copy_padded of shape ", a.sizes(), " into ", b.sizes());
    if (!kTokenDims[k].empty()) b.zero_();
    target.copy_(a, /*non_blocking=*/true);
  }
}

}  // namespace pkd::data
