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

// The token dimensions of each padded field ([B, T] inputs, [L, B, T, H] hidden states,
// [L, B, heads, T, T] attention maps).
template <class F>
void for_each_field(const Batch& a, Batch& b, F f) {
  f(a.input_ids, b.input_ids, std::vector<std::int64_t>{1});
  f(a.token_type_ids, b.token_type_ids, std::vector<std::int64_t>{1});
  f(a.attention_mask, b.attention_mask, std::vector<std::int64_t>{1});
  f(a.labels, b.labels, std::vector<std::int64_t>{});
  f(a.teacher_logits, b.teacher_logits, std::vector<std::int64_t>{});
  f(a.teacher_cls, b.teacher_cls, std::vector<std::int64_t>{});
  f(a.teacher_hidden, b.teacher_hidden, std::vector<std::int64_t>{2});
  f(a.teacher_attention, b.teacher_attention, std::vector<std::int64_t>{3, 4});
}

}  // namespace

Batch padded_like(const Batch& b, std::int64_t length, torch::Device device) {
  if (length < b.input_ids.size(1))
    fail("internal: padding a batch of ", b.input_ids.size(1), " tokens to ", length);
  Batch out;
  for_each_field(b, out, [&](const torch::Tensor& from, torch::Tensor& to, const auto& dims) {
    if (!from.defined()) return;
    std::vector<std::int64_t> shape = from.sizes().vec();
    for (auto d : dims) shape[static_cast<std::size_t>(d)] = length;
    to = torch::zeros(shape, from.options().device(device).pinned_memory(false));
  });
  return out;
}

void copy_padded(const Batch& from, Batch& into) {
  for_each_field(from, into, [&](const torch::Tensor& a, torch::Tensor& b, const auto& dims) {
    if (a.defined() != b.defined() || (a.defined() && a.dim() != b.dim()))
      fail("internal: copy_padded between batches of other fields");
    if (!a.defined()) return;
    torch::Tensor target = b;
    for (auto d : dims) target = target.narrow(d, 0, a.size(d));
    if (target.sizes() != a.sizes())
      fail("internal: copy_padded of shape ", a.sizes(), " into ", b.sizes());
    if (!dims.empty()) b.zero_();
    target.copy_(a, /*non_blocking=*/true);
  });
}

}  // namespace pkd::data
