// The fused AdamW against LibTorch's torch::optim::AdamW (the same arithmetic as
// torch.optim.AdamW): same parameters after several steps with weight decay on some tensors,
// clipping as clip_grad_norm_ computes it, and an exact state round trip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "train/optimizer.h"

namespace pkd::train {
namespace {

struct Tiny : torch::nn::Module {
  Tiny() {
    dense = register_module("dense", torch::nn::Linear(40, 30));
    norm = register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({30})));
  }
  torch::Tensor forward(const torch::Tensor& x) { return norm(dense(x)).pow(2).sum(); }
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};

TEST(FusedAdamW, MatchesTorchAdamWWithDecayGroups) {
  torch::manual_seed(1);
  auto a = std::make_shared<Tiny>(), b = std::make_shared<Tiny>();
  {
    torch::NoGradGuard no_grad;
    auto pa = a->parameters(), pb = b->parameters();
    for (std::size_t i = 0; i < pa.size(); ++i) {
      pa[i].copy_(torch::randn_like(pa[i]));
      pb[i].copy_(pa[i]);
    }
  }
  OptimizerConfig c;
  c.learning_rate = 1e-2;
  c.weight_decay = 0.1;
  FusedAdamW fused(*a, c);
  // The reference: decay on dense.weight only (HF groups).
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(c.learning_rate)
                                                            .betas({c.adam_beta1, c.adam_beta2})
                                                            .eps(c.adam_epsilon)
                                                            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{b->dense->weight}, options(c.weight_decay));
  groups.emplace_back(std::vector<torch::Tensor>{b->dense->bias, b->norm->weight, b->norm->bias},
                      options(0.0));
  torch::optim::AdamW reference(groups, torch::optim::AdamWOptions(c.learning_rate));
  for (int step = 0; step < 6; ++step) {
    auto x = torch::randn({8, 40});
    a->forward(x).backward();
    b->forward(x).backward();
    const double factor = clip_factor(a->parameters(), 5.0);
    torch::nn::utils::clip_grad_norm_(b->parameters(), 5.0);
    if (step == 0) {  // the first gradients are large: clipping is exercised
      EXPECT_LT(factor, 1.0);
    }
    fused.step(c.learning_rate, factor);
    reference.step();
    reference.zero_grad();
    for (const auto& p : a->parameters())  // the fused step released the gradients
      EXPECT_FALSE(p.grad().defined());
  }
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) {
    const auto& q = pb[p.key()];
    EXPECT_TRUE(torch::allclose(p.value(), q, /*rtol=*/1e-5, /*atol=*/1e-6))
        << p.key() << ": max diff " << (p.value() - q).abs().max().item<double>();
  }
  EXPECT_EQ(fused.steps(), 6);
}

// A word embedding whose batches touch a few rows (GLUE's case): the rows no batch has touched
// only decay, bitwise as torch computes it (p * decay step after step: zero moments give a zero
// Adam term); touched rows follow torch, also after they stop being touched and across a state
// round trip.
TEST(FusedAdamW, SparseEmbeddingGradientsFollowTorch) {
  torch::manual_seed(3);
  torch::nn::Embedding a(40, 300), b(40, 300);  // rows of 300: blocks straddle rows
  {
    torch::NoGradGuard no_grad;
    b->weight.copy_(a->weight);
  }
  const torch::Tensor initial = a->weight.detach().clone();
  OptimizerConfig c;
  c.learning_rate = 1e-2;
  c.weight_decay = 0.1;
  FusedAdamW fused(*a, c);
  torch::optim::AdamW reference(std::vector<torch::Tensor>{b->weight},
                                torch::optim::AdamWOptions(c.learning_rate)
                                    .betas({c.adam_beta1, c.adam_beta2})
                                    .eps(c.adam_epsilon)
                                    .weight_decay(c.weight_decay));
  // Rows 3 and 7 in every batch, row 11 only in the first two, rows >= 20 never.
  const std::vector<std::vector<std::int64_t>> batches = {{3, 7, 11}, {11, 3}, {7, 3}, {3, 7}};
  torch::Tensor expected_untouched = initial.slice(0, 20).clone();
  for (std::size_t step = 0; step < 2 * batches.size(); ++step) {
    if (step == batches.size()) {  // resume from a saved state mid-run
      auto saved = fused.state();
      std::map<std::string, torch::Tensor> copy;
      for (const auto& [k, v] : saved) copy[k] = v.clone();
      fused = FusedAdamW(*a, c);
      fused.load_state(copy, "test");
    }
    const auto ids = torch::tensor(batches[step % batches.size()]);
    a(ids).pow(2).sum().backward();
    b(ids).pow(2).sum().backward();
    fused.step(c.learning_rate);
    reference.step();
    reference.zero_grad();
    expected_untouched.mul_(static_cast<float>(1 - c.learning_rate * c.weight_decay));
  }
  EXPECT_TRUE(torch::equal(a->weight.detach().slice(0, 20), expected_untouched));
  EXPECT_FALSE(torch::equal(a->weight.detach().slice(0, 11, 12), initial.slice(0, 11, 12)));
  EXPECT_TRUE(torch::allclose(a->weight, b->weight, /*rtol=*/1e-5, /*atol=*/1e-6))
      << "max diff " << (a->weight - b->weight).abs().max().item<double>();
  const auto state = fused.state();
  EXPECT_EQ(state.at("exp_avg_sq.weight").slice(0, 20).count_nonzero().item<std::int64_t>(), 0);
}

TEST(FusedAdamW, StateRoundTripsAndRejectsOtherModels) {
  torch::manual_seed(2);
  Tiny a;
  OptimizerConfig c;
  FusedAdamW opt(a, c);
  a.forward(torch::randn({4, 40})).backward();
  opt.step(1e-3);
  auto saved = opt.state();
  std::map<std::string, torch::Tensor> copy;
  for (const auto& [k, v] : saved) copy[k] = v.clone();
  FusedAdamW other(a, c);
  other.load_state(copy, "test");
  EXPECT_EQ(other.steps(), 1);
  for (const auto& [k, v] : other.state()) EXPECT_TRUE(torch::equal(v, saved.at(k))) << k;
  copy["exp_avg.dense.weight"] = torch::zeros({3, 3});
  EXPECT_THROW(other.load_state(copy, "test"), Error);
  copy.erase("exp_avg.dense.weight");
  EXPECT_THROW(other.load_state(copy, "test"), Error);
}

TEST(LinearSchedule, WarmupThenLinearDecay) {
  EXPECT_DOUBLE_EQ(linear_schedule(0, 10, 100), 0.0);
  EXPECT_DOUBLE_EQ(linear_schedule(5, 10, 100), 0.5);
  EXPECT_DOUBLE_EQ(linear_schedule(10, 10, 100), 1.0);
  EXPECT_DOUBLE_EQ(linear_schedule(55, 10, 100), 0.5);
  EXPECT_DOUBLE_EQ(linear_schedule(100, 10, 100), 0.0);
}

}  // namespace
}  // namespace pkd::train
