// The token-level distillation losses (distill/token_losses.h) against hand-computed values, their
// independence of padding, their gradients against finite differences, and the PKD objective's
// learned projection: its gradient through every hidden-state term, by finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "distill/pkd_objective.h"
#include "distill/token_losses.h"
#include "train/step_graphs.h"

namespace pkd::distill {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

torch::Tensor tensor(std::vector<double> v, std::vector<std::int64_t> shape) {
  return torch::tensor(v, kDouble).reshape(shape);
}

// One layer, two examples of 3 and 2 tokens (the second padded), H = 2.
TEST(TokenLosses, HiddenMseByHand) {
  auto s = tensor({1, 2, 0, 0, 3, 1, /**/ 2, 2, 1, 0, 9, 9}, {1, 2, 3, 2});
  auto t = tensor({0, 2, 1, 1, 1, 1, /**/ 1, 1, 1, 2, 0, 0}, {1, 2, 3, 2});
  auto mask = torch::tensor({1, 1, 1, 1, 1, 0}, torch::kLong).reshape({2, 3});
  // Example 0: (1 + 2 + 4) / (3 tokens x 2 units); example 1: (2 + 4) / (2 x 2); the padded
  // token (9, 9) counts for nothing.
  EXPECT_NEAR(hidden_mse_sum(s, t, mask).item<double>(), 7.0 / 6 + 6.0 / 4, 1e-12);
  // Two layers: the mean over layers (the second's errors doubled: squares x 4).
  auto s2 = torch::cat({s, t + 2 * (s - t)});
  auto t2 = torch::cat({t, t});
  EXPECT_NEAR(hidden_mse_sum(s2, t2, mask).item<double>(), 2.5 * (7.0 / 6 + 6.0 / 4), 1e-12);
}

// One head, one example of 2 tokens padded to 3.
TEST(TokenLosses, AttentionMseAndKlByHand) {
  auto s = tensor({0.5, 0.5, 0, 0.25, 0.75, 0, 0.3, 0.7, 0}, {1, 1, 1, 3, 3});
  auto t = tensor({1, 0, 0, 0.5, 0.5, 0, 0, 0, 0}, {1, 1, 1, 3, 3});
  auto mask = torch::tensor({1, 1, 0}, torch::kLong).reshape({1, 3});
  // (0.25 + 0.25 + 0.0625 + 0.0625) / (1 head x 2 x 2): the padded query row counts for nothing.
  EXPECT_NEAR(attention_mse_sum(s, t, mask).item<double>(), 0.625 / 4, 1e-12);
  // Row 0: 1 log(1 / 0.5); row 1: 0.5 log(0.5 / 0.25) + 0.5 log(0.5 / 0.75); / (1 head x 2 rows).
  const double kl = std::log(2.0) + 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3);
  EXPECT_NEAR(attention_kl_sum(s, t, mask).item<double>(), kl / 2, 1e-12);
}

// Random attention probabilities: softmax over the real keys, exactly 0 at padded keys.
torch::Tensor probabilities(std::vector<std::int64_t> shape, const torch::Tensor& mask) {
  auto scores = torch::randn(shape, kDouble);
  const auto keys = mask.to(torch::kDouble).unsqueeze(1).unsqueeze(1);  // [B, 1, 1, T]
  return torch::softmax(scores + (1 - keys) * -1e30, -1) * keys;
}

// More padding (the same examples in a longer batch) changes no loss.
TEST(TokenLosses, PaddingChangesNothing) {
  torch::manual_seed(5);
  auto mask = torch::tensor({1, 1, 1, 1, 1, 0}, torch::kLong).reshape({2, 3});
  auto wide = torch::cat({mask, torch::zeros({2, 2}, torch::kLong)}, 1);
  auto pad = [](const torch::Tensor& x, std::vector<std::int64_t> dims) {
    auto y = x;
    for (auto d : dims) {
      auto shape = y.sizes().vec();
      shape[static_cast<std::size_t>(d)] = 2;
      y = torch::cat({y, torch::randn(shape, kDouble)}, d);  // garbage beyond the tokens
    }
    return y;
  };
  auto hs = torch::randn({2, 2, 3, 4}, kDouble), ht = torch::randn({2, 2, 3, 4}, kDouble);
  EXPECT_NEAR(hidden_mse_sum(hs, ht, mask).item<double>(),
              hidden_mse_sum(pad(hs, {2}), pad(ht, {2}), wide).item<double>(), 1e-12);
  auto as = probabilities({2, 3, 3, 3}, mask).unsqueeze(0);
  auto at = probabilities({2, 3, 3, 3}, mask).unsqueeze(0);
  // Padded keys hold exactly zero probability in both (as the model and the cache give them).
  auto zero_pad = [](const torch::Tensor& x) { return torch::constant_pad_nd(x, {0, 2, 0, 2}); };
  EXPECT_NEAR(attention_mse_sum(as, at, mask).item<double>(),
              attention_mse_sum(zero_pad(as), zero_pad(at), wide).item<double>(), 1e-12);
  EXPECT_NEAR(attention_kl_sum(as, at, mask).item<double>(),
              attention_kl_sum(zero_pad(as), zero_pad(at), wide).item<double>(), 1e-12);
}

// Central differences of f at every element of x against x's autograd gradient.
void expect_gradient(const std::function<torch::Tensor()>& f, torch::Tensor& x, double tol) {
  if (x.grad().defined()) x.mutable_grad().zero_();
  f().backward();
  auto grad = x.grad().clone().view({-1});
  auto flat = x.data().view({-1});
  for (std::int64_t i = 0; i < flat.numel(); ++i) {
    torch::NoGradGuard no_grad;
    const double h = 1e-6, v = flat[i].item<double>();
    flat[i] = v + h;
    const double up = f().item<double>();
    flat[i] = v - h;
    const double down = f().item<double>();
    flat[i] = v;
    EXPECT_NEAR(grad[i].item<double>(), (up - down) / (2 * h), tol) << i;
  }
}

TEST(TokenLosses, GradientsMatchFiniteDifferences) {
  torch::manual_seed(7);
  auto mask = torch::tensor({1, 1, 1, 1, 1, 0}, torch::kLong).reshape({2, 3});
  auto hs = torch::randn({2, 2, 3, 4}, kDouble).requires_grad_(true);
  auto ht = torch::randn({2, 2, 3, 4}, kDouble);
  expect_gradient([&] { return hidden_mse_sum(hs, ht, mask); }, hs, 1e-7);
  // Attention losses with respect to the student's scores, through its softmax (as in training).
  auto scores = torch::randn({1, 2, 2, 3, 3}, kDouble).requires_grad_(true);
  auto at = probabilities({2, 2, 3, 3}, mask).unsqueeze(0);
  const auto keys = mask.to(torch::kDouble).unsqueeze(1).unsqueeze(1);
  auto student = [&] { return torch::softmax(scores + (1 - keys) * -1e30, -1); };
  expect_gradient([&] { return attention_mse_sum(student(), at, mask); }, scores, 1e-7);
  expect_gradient([&] { return attention_kl_sum(student(), at, mask); }, scores, 1e-7);
}

// A narrow student (width 8, double) against a teacher of width 16 with every term on, and a
// batch of two examples (4 and 2 tokens) with random teacher features.
struct NarrowStudent {
  NarrowStudent() {
    torch::manual_seed(11);
    sc.vocab_size = 50;
    sc.hidden_size = 8;
    sc.num_hidden_layers = 2;
    sc.num_attention_heads = 2;
    sc.intermediate_size = 16;
    sc.max_position_embeddings = 64;
    sc.hidden_dropout_prob = sc.attention_probs_dropout_prob = 0;
    sc.num_labels = 2;
    student = model::BertForSequenceClassification(sc);
    student->to(torch::kDouble);
    teacher.used = true;
    teacher.depth = 4;
    teacher.hidden = 16;
    teacher.heads = 2;
    teacher.layers = {2};
    teacher.token_layers = {2, 4};
    teacher.features.tokens.hidden = {0, 2, 4};
    teacher.features.tokens.attention = {2, 4};
    c.alpha = 0;
    c.beta = 3;
    c.hidden_weight = 2;
    c.embedding_weight = 0.5;
    c.attention_weight = 1;
    objective = std::make_unique<PkdObjective>(c, false, teacher, sc, nullptr);
    objective->trainable()->to(torch::kDouble);
    b.attention_mask = torch::tensor({1, 1, 1, 1, 1, 1, 0, 0}, torch::kLong).reshape({2, 4});
    b.input_ids = torch::randint(1, 50, {2, 4}, torch::kLong) * b.attention_mask;
    b.token_type_ids = torch::zeros({2, 4}, torch::kLong);
    b.labels = torch::tensor({0, 1}, torch::kLong);
    b.teacher_logits = torch::randn({2, 2});
    b.teacher_cls = torch::randn({1, 2, 16});
    b.teacher_hidden =
        torch::randn({3, 2, 4, 16}, kDouble) * b.attention_mask.to(torch::kDouble).unsqueeze(-1);
    b.teacher_attention =
        probabilities({2, 2, 4, 4}, b.attention_mask).unsqueeze(0).repeat({2, 1, 1, 1, 1});
  }
  model::BertConfig sc;
  model::BertForSequenceClassification student{nullptr};
  Teacher teacher;
  PkdLossConfig c;
  std::unique_ptr<PkdObjective> objective;
  data::Batch b;
};

// The objective learns a projection, and the gradient of the hidden-state terms with respect to
// it matches central differences.
TEST(TokenLosses, ProjectionGradientThroughTheObjective) {
  NarrowStudent n;
  auto& objective = *n.objective;
  const auto& c = n.c;
  ASSERT_TRUE(objective.trainable());
  EXPECT_EQ(objective.part_names(),
            (std::vector<std::string>{"ce", "kd", "pt", "hidden", "embedding", "attention"}));
  // The distillation terms alone (CE does not depend on the projection; it is float32).
  auto terms = [&] {
    auto out = objective.loss(n.student, n.b);
    return c.beta * out.parts[2] + c.hidden_weight * out.parts[3] +
           c.embedding_weight * out.parts[4] + c.attention_weight * out.parts[5];
  };
  auto weight = objective.trainable()->named_parameters()["projection.weight"];
  weight.mutable_grad() = torch::Tensor();
  objective.loss(n.student, n.b).total.backward();
  auto grad = weight.grad().clone().view({-1});
  auto flat = weight.data().view({-1});
  for (std::int64_t i = 0; i < flat.numel(); i += 7) {
    torch::NoGradGuard no_grad;
    const double h = 1e-3, v = flat[i].item<double>();  // PT's float32 noise: a wide step
    flat[i] = v + h;
    const double up = terms().item<double>();
    flat[i] = v - h;
    const double down = terms().item<double>();
    flat[i] = v;
    // PT is computed in float32 (as every [CLS] comparison, pkd_loss.h): a looser tolerance.
    const double g = grad[i].item<double>();
    EXPECT_NEAR(g, (up - down) / (2 * h), 1e-4 * (1 + std::abs(g))) << i;
  }
  // Same width: no projection, nothing extra to train.
  n.teacher.hidden = 8;
  EXPECT_FALSE(PkdObjective(c, false, n.teacher, n.sc, nullptr).trainable());
}

// A step replayed as a CUDA graph sees its batch padded to the bucket length
// (train/step_graphs.h, data::copy_padded): every loss part and every gradient, of the student
// and of the projection, is that of the unpadded batch.
TEST(TokenLosses, BucketPaddingOfCudaGraphsChangesNoLossOrGradient) {
  NarrowStudent n;
  const std::int64_t length = train::graph_length(n.b.input_ids.size(1), 64);
  ASSERT_EQ(length, 16);
  EXPECT_EQ(train::graph_length(16, 64), 16);
  EXPECT_EQ(train::graph_length(17, 64), 32);
  EXPECT_EQ(train::graph_length(97, 100), 100);   // no longer than the position embeddings
  EXPECT_EQ(train::graph_length(101, 100), 112);  // (the model refuses such a batch itself)
  data::Batch padded = data::padded_like(n.b, length, torch::kCPU);
  data::copy_padded(n.b, padded);
  EXPECT_EQ(padded.teacher_attention.sizes(), (std::vector<std::int64_t>{2, 2, 2, 16, 16}));
  EXPECT_TRUE(padded.input_ids.narrow(1, 0, 4).equal(n.b.input_ids));
  EXPECT_EQ(padded.attention_mask.sum().item<std::int64_t>(), 6);
  std::vector<torch::Tensor> params;
  for (const auto& p : n.student->parameters()) params.push_back(p);
  for (const auto& p : n.objective->trainable()->parameters()) params.push_back(p);
  auto run = [&](const data::Batch& b) {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    auto out = n.objective->loss(n.student, b);
    out.total.backward();
    std::vector<torch::Tensor> parts{out.total.detach()};
    for (const auto& part : out.parts) parts.push_back(part.detach().to(torch::kDouble));
    std::vector<torch::Tensor> grads;
    for (auto& p : params) grads.push_back(p.grad().clone());
    return std::make_pair(torch::stack(parts), grads);
  };
  const auto [loss, grads] = run(n.b);
  const auto [padded_loss, padded_grads] = run(padded);
  // PT and CE are float32 (pkd_loss.h); the token-level terms are double here.
  EXPECT_TRUE(torch::allclose(loss, padded_loss, 1e-6, 1e-7)) << loss << padded_loss;
  for (std::size_t i = 0; i < grads.size(); ++i)
    EXPECT_TRUE(torch::allclose(grads[i], padded_grads[i], 1e-5, 1e-7)) << i;
  // A batch too long for the bucket is refused.
  EXPECT_THROW(data::padded_like(padded, 8, torch::kCPU), pkd::Error);
}

}  // namespace
}  // namespace pkd::distill
