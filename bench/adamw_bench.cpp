// The optimizer update over a 6-layer BERT-base student (67M parameters, 23M of them the word
// embedding): pkd's fused AdamW against LibTorch's torch::optim::AdamW (the same arithmetic as
// PyTorch eager's torch.optim.AdamW, with HF's two decay groups and clip_grad_norm_), same
// threads, in one run. Prints the median milliseconds per update (clipping included) and the
// ratio. Both run with training's allocator settings (model::Runtime): with glibc's defaults the
// reference's temporaries are fresh mmaps every update and it measured ~10x slower than this.
// Usage: pkd_bench_adamw [THREADS] [ITERS]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "core/strings.h"
#include "model/bert.h"
#include "model/runtime.h"
#include "train/optimizer.h"

namespace {

// `prepare` (untimed) refills the gradients, which the fused step releases.
double median_ms(int iters, const std::function<void()>& prepare,
                 const std::function<void()>& step) {
  std::vector<double> ms;
  for (int i = 0; i < iters + 1; ++i) {
    prepare();
    auto start = std::chrono::steady_clock::now();
    step();
    if (i > 0)  // the first update allocates the moments
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int iters = argc > 2 ? std::atoi(argv[2]) : 10;
  pkd::model::RuntimeConfig runtime_config;  // threads, and the allocator settings of training
  runtime_config.intra_op_threads = threads;
  pkd::model::Runtime runtime(runtime_config, 1);
  pkd::model::BertConfig config;
  config.num_hidden_layers = 6;
  pkd::model::BertForSequenceClassification a(config), b(config);
  std::int64_t count = 0;
  for (auto* m : {&a, &b})
    for (auto& p : (*m)->parameters()) {
      p.mutable_grad() = torch::zeros_like(p);
      if (m == &a) count += p.numel();
    }
  pkd::train::OptimizerConfig c;
  pkd::train::FusedAdamW fused(*a, c);
  const auto params_a = (*a).parameters();
  auto refill = [](const std::vector<torch::Tensor>& params) {
    for (auto p : params) {  // the fused step releases gradients; the reference zeroes them
      if (!p.grad().defined()) p.mutable_grad() = torch::empty_like(p);
      p.mutable_grad().normal_(0, 1e-3);
    }
  };
  const double ours = median_ms(
      iters, [&] { refill(params_a); },
      [&] { fused.step(c.learning_rate, pkd::train::clip_factor(params_a, c.max_grad_norm)); });
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : (*b).named_parameters())
    (pkd::ends_with(p.key(), "bias") || pkd::ends_with(p.key(), "LayerNorm.weight") ? no_decay
                                                                                    : decay)
        .push_back(p.value());
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(c.learning_rate).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(c.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  torch::optim::AdamW reference(groups, torch::optim::AdamWOptions(c.learning_rate));
  const auto params_b = (*b).parameters();
  const double theirs = median_ms(
      iters, [&] { refill(params_b); },
      [&] {
        torch::nn::utils::clip_grad_norm_(params_b, c.max_grad_norm);
        reference.step();
      });
  std::printf(
      "AdamW update + clipping, %.1fM parameters, %d threads: pkd fused %.1f ms, "
      "torch::optim::AdamW %.1f ms: ratio %.2fx\n",
      static_cast<double>(count) / 1e6, threads, ours, theirs, theirs / ours);
}
