// The fused AdamW against LibTorch's torch::optim::AdamW (the same arithmetic as
// torch.optim.AdamW): same parameters after several steps with weight decay on some tensors,
// clipping as clip_grad_norm_ computes it, and an exact state round trip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <torch/cuda.h>

#include "core/error.h"
#include "core/fs.h"
#include "support/test_support.h"
#include "train/checkpoint.h"
#include "train/loss_scaler.h"
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
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kLinear, 0, 10, 100), 0.0);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kLinear, 5, 10, 100), 0.5);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kLinear, 10, 10, 100), 1.0);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kLinear, 55, 10, 100), 0.5);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kLinear, 100, 10, 100), 0.0);
}

// The seed's default: warmup, then the peak to the end; warmup given in steps or as a fraction.
TEST(ConstantSchedule, WarmupThenConstantAndWarmupSteps) {
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kConstant, 0, 10, 100), 0.0);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kConstant, 5, 10, 100), 0.5);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kConstant, 10, 10, 100), 1.0);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kConstant, 99, 10, 100), 1.0);
  EXPECT_DOUBLE_EQ(schedule_multiplier(Schedule::kConstant, 0, 0, 100), 1.0);
  OptimizerConfig c;
  EXPECT_EQ(c.warmup_for(1000), 100);  // warmup_proportion 0.1
  c.warmup_steps = 7;
  EXPECT_EQ(c.warmup_for(1000), 7);
  c.warmup_steps = 0;
  EXPECT_EQ(c.warmup_for(1000), 0);
  c.schedule = "constant";
  EXPECT_EQ(c.schedule_kind(), Schedule::kConstant);
  c.schedule = "cosine";
  EXPECT_THROW(c.validate(), UsageError);
  c.schedule = "linear";
  c.warmup_steps = -2;
  EXPECT_THROW(c.validate(), UsageError);
}

// GradScaler's schedule: skip and halve on overflow, double after growth_interval clean steps.
TEST(LossScaler, SkipsOnOverflowAndGrowsAfterTheInterval) {
  LossScaler off(false);
  EXPECT_EQ(off.scale(), 1.0);
  EXPECT_TRUE(off.update(true));  // inactive (float32, bfloat16): never skips
  LossScaler s(true, 1024.0, 2.0, 0.5, 3);
  EXPECT_FALSE(s.update(true));
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_TRUE(s.update(false));
  EXPECT_TRUE(s.update(false));
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_TRUE(s.update(false));  // third clean step in a row
  EXPECT_EQ(s.scale(), 1024.0);
  EXPECT_EQ(s.growth_tracker(), 0);
  EXPECT_TRUE(s.update(false));
  EXPECT_FALSE(s.update(true));  // an overflow resets the count
  EXPECT_EQ(s.growth_tracker(), 0);
  LossScaler resumed(true);
  resumed.restore(s.scale(), s.growth_tracker());
  EXPECT_EQ(resumed.scale(), 512.0);
}

// The loss scale survives a checkpoint; a damaged one is refused naming the file and the key.
TEST(LossScaler, CheckpointedAndValidated) {
  test::TempDir dir;
  TrainState state;
  state.loss_scale = 1024;
  state.loss_scale_growth = 7;
  state.config_sha256 = std::string(64, '0');
  save_checkpoint(dir.path(), state, {}, model::BertConfig{}, {}, {}, "x = 1\n", 2);
  auto c = load_latest_checkpoint(dir.path());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->state.loss_scale, 1024);
  EXPECT_EQ(c->state.loss_scale_growth, 7);
  const std::string path = c->dir + "/trainer_state.json";
  std::string text = read_file(path);
  const auto at = text.find("\"loss_scale\": 1024");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::string("\"loss_scale\": 1024").size(), "\"loss_scale\": -4");
  write_file_atomic(path, text);
  try {
    load_latest_checkpoint(dir.path());
    FAIL() << "a negative loss scale was accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("trainer_state.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("loss_scale must be a positive finite number"), std::string::npos) << msg;
  }
}

// The multiplier clip_scale computes on the device equals clip_factor's (and unscales).
TEST(ClipScale, EqualsClipFactorAndUnscales) {
  torch::manual_seed(3);
  auto a = std::make_shared<Tiny>();
  a->forward(torch::randn({8, 40})).backward();
  const double factor = clip_factor(a->parameters(), 5.0);
  ASSERT_LT(factor, 1.0);
  EXPECT_NEAR(clip_scale(a->parameters(), 5.0, 1.0).multiplier.item<double>(), factor,
              1e-6 * factor);
  // Gradients of a loss scaled by 8: the multiplier is the same clip of the unscaled ones / 8.
  for (auto& p : a->parameters()) p.mutable_grad().mul_(8);
  EXPECT_NEAR(clip_scale(a->parameters(), 5.0, 1.0 / 8).multiplier.item<double>(), factor / 8,
              1e-6 * factor);
  for (auto& p : a->parameters()) p.mutable_grad()[0].fill_(INFINITY);
  EXPECT_FALSE(std::isfinite(clip_scale(a->parameters(), 5.0, 1.0).norm.item<double>()));
}

// keep_gradients, as split CUDA graphs use it (train/step_graphs.h): the gradients stay at their
// addresses, each backward accumulates into them once they are zeroed, and the steps equal those
// of an optimizer that releases its gradients, exactly (0 + g == g).
void kept_gradients_stay_in_place(torch::Device device) {
  torch::manual_seed(4);
  auto kept_model = std::make_shared<Tiny>(), released_model = std::make_shared<Tiny>();
  {
    torch::NoGradGuard no_grad;
    auto pk = kept_model->parameters(), pr = released_model->parameters();
    for (std::size_t i = 0; i < pk.size(); ++i) pr[i].copy_(pk[i]);
  }
  kept_model->to(device);
  released_model->to(device);
  OptimizerConfig c;
  c.learning_rate = 1e-2;
  c.weight_decay = 0.1;
  FusedAdamW kept(*kept_model, c), released(*released_model, c);
  kept.keep_gradients(true);
  std::vector<torch::Tensor> grads;
  std::vector<const void*> addresses;
  for (auto& p : kept_model->parameters()) {
    p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
    addresses.push_back(p.grad().data_ptr());
  }
  for (int step = 0; step < 4; ++step) {
    const auto x = torch::randn({8, 40}).to(device);
    {
      torch::NoGradGuard no_grad;
      at::_foreach_zero_(grads);
    }
    kept_model->forward(x).backward();
    released_model->forward(x).backward();
    auto pk = kept_model->parameters(), pr = released_model->parameters();
    for (std::size_t i = 0; i < pk.size(); ++i) {
      EXPECT_EQ(pk[i].grad().data_ptr(), addresses[i]) << "parameter " << i << ", step " << step;
      EXPECT_TRUE(torch::equal(pk[i].grad(), pr[i].grad())) << "parameter " << i;
    }
    kept.step(c.learning_rate, clip_scale(pk, 5.0, 1.0).multiplier);
    released.step(c.learning_rate, clip_scale(pr, 5.0, 1.0).multiplier);
    for (std::size_t i = 0; i < pk.size(); ++i) {
      EXPECT_TRUE(pk[i].grad().defined());
      EXPECT_FALSE(pr[i].grad().defined());
    }
  }
  auto pk = kept_model->parameters(), pr = released_model->parameters();
  for (std::size_t i = 0; i < pk.size(); ++i)
    EXPECT_TRUE(torch::equal(pk[i], pr[i])) << "parameter " << i;
}

TEST(FusedAdamW, KeptGradientsStayInPlaceAndStepAsReleasedOnes) {
  kept_gradients_stay_in_place(torch::kCPU);
}

// On a GPU (skipped elsewhere): the multi-tensor fused CUDA AdamW equals the CPU kernel within
// float32 rounding after several clipped steps with both weight decay groups. Both get the same
// gradients (computed on the CPU): this model's loss has near-zero gradients in dense.*, whose
// rounding noise Adam would amplify to whole steps if each device computed its own.
TEST(FusedAdamWCuda, MatchesTheCpuKernel) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  torch::manual_seed(2);
  auto cpu = std::make_shared<Tiny>(), gpu = std::make_shared<Tiny>();
  {
    torch::NoGradGuard no_grad;
    auto pc = cpu->parameters(), pg = gpu->parameters();
    for (std::size_t i = 0; i < pc.size(); ++i) pg[i].copy_(pc[i]);
  }
  gpu->to(torch::kCUDA);
  OptimizerConfig c;
  c.learning_rate = 1e-2;
  c.weight_decay = 0.1;
  FusedAdamW on_cpu(*cpu, c), on_gpu(*gpu, c);
  for (int step = 0; step < 6; ++step) {
    cpu->forward(torch::randn({8, 40})).backward();
    auto pc = cpu->parameters(), pg = gpu->parameters();
    for (std::size_t i = 0; i < pc.size(); ++i)
      pg[i].mutable_grad() = pc[i].grad().to(torch::kCUDA);
    on_cpu.step(c.learning_rate, clip_factor(cpu->parameters(), 5.0));
    on_gpu.step(c.learning_rate, clip_scale(gpu->parameters(), 5.0, 1.0).multiplier);
  }
  auto pc = cpu->parameters(), pg = gpu->parameters();
  for (std::size_t i = 0; i < pc.size(); ++i) {
    const double diff = (pc[i] - pg[i].cpu()).abs().max().item<double>();
    EXPECT_LE(diff, 1e-5) << "parameter " << i;
  }
  EXPECT_EQ(on_gpu.steps(), 6);
  EXPECT_TRUE(torch::allclose(on_gpu.state().at("exp_avg.dense.weight").cpu(),
                              on_cpu.state().at("exp_avg.dense.weight"), 1e-4, 1e-6));
}

// On a GPU (skipped elsewhere): the same through the multi-tensor fused CUDA AdamW.
TEST(FusedAdamWCuda, KeptGradientsStayInPlaceAndStepAsReleasedOnes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  kept_gradients_stay_in_place(torch::kCUDA);
}

}  // namespace
}  // namespace pkd::train
