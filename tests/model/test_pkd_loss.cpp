// The PKD loss against hand-computed values, its gradients against finite differences, and the
// layer maps of the paper (and their generalisation) with their errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "distill/layer_map.h"
#include "distill/pkd_loss.h"

namespace pkd::distill {
namespace {

using V = std::vector<std::int64_t>;

TEST(LayerMap, PaperMapsAndGeneralisation) {
  EXPECT_EQ(teacher_layers("skip", 12, 6), (V{2, 4, 6, 8, 10}));
  EXPECT_EQ(teacher_layers("skip", 12, 3), (V{4, 8}));
  EXPECT_EQ(teacher_layers("last", 12, 6), (V{7, 8, 9, 10, 11}));
  EXPECT_EQ(teacher_layers("last", 12, 3), (V{10, 11}));
  EXPECT_EQ(teacher_layers("skip", 24, 6), (V{4, 8, 12, 16, 20}));
  EXPECT_EQ(teacher_layers("skip", 12, 5), (V{2, 5, 7, 10}));
  EXPECT_EQ(teacher_layers("skip", 4, 2), (V{2}));
  EXPECT_EQ(teacher_layers("last", 4, 4), (V{1, 2, 3}));
  EXPECT_EQ(teacher_layers("skip", 12, 1), V{});
  EXPECT_EQ(teacher_layers("1, 5,9", 12, 4), (V{1, 5, 9}));
}

TEST(LayerMap, ImpossibleMapsAreClearErrors) {
  auto message = [](const std::string& map, std::int64_t L, std::int64_t k) {
    try {
      teacher_layers(map, L, k);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("skip", 3, 6).find("6-layer student cannot learn from a 3-layer"),
            std::string::npos);
  EXPECT_NE(message("2,4", 12, 6).find("needs 5"), std::string::npos);
  EXPECT_NE(message("2,4,13", 12, 4).find("teacher layer 13 does not exist"), std::string::npos);
  EXPECT_NE(message("2,x", 12, 3).find("found 'x'"), std::string::npos);
  EXPECT_NE(message("skip", 12, 0).find("at least 1 layer"), std::string::npos);
}

// Two examples, three classes, two intermediate layers of width 2: every term by hand.
TEST(PkdLoss, HandComputedValues) {
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const std::vector<std::vector<double>> s = {{1.0, 2.0, 0.5}, {-1.0, 0.0, 3.0}};
  const std::vector<std::vector<double>> t = {{2.0, 1.0, 0.0}, {0.5, 0.5, 1.0}};
  const std::vector<std::int64_t> y = {1, 2};
  auto S = torch::tensor({1.0, 2.0, 0.5, -1.0, 0.0, 3.0}, opts).reshape({2, 3});
  auto Tt = torch::tensor({2.0, 1.0, 0.0, 0.5, 0.5, 1.0}, opts).reshape({2, 3});
  auto labels = torch::tensor(y, torch::kLong);
  // student layers 1, 2 ([B=2, H=2] each) and teacher [2, 2, 2]
  std::vector<torch::Tensor> scls = {torch::tensor({3.0, 4.0, 1.0, 0.0}, opts).reshape({2, 2}),
                                     torch::tensor({0.0, 2.0, 1.0, 1.0}, opts).reshape({2, 2})};
  auto tcls = torch::tensor({1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 2.0, 0.0}, opts).reshape({2, 2, 2});

  PkdLossConfig c;
  c.alpha = 0.7;
  c.beta = 100;
  c.temperature = 2;
  auto out = PkdLoss(c, false)(S, labels, Tt, torch::stack(scls), tcls);

  auto log_softmax = [](std::vector<double> v, double T) {
    double m = -1e300, z = 0;
    for (auto& x : v) m = std::max(m, x / T);
    for (auto& x : v) z += std::exp(x / T - m);
    for (auto& x : v) x = x / T - m - std::log(z);
    return v;
  };
  double ce = 0, kd = 0;
  for (int i = 0; i < 2; ++i) {
    ce -= log_softmax(s[i], 1)[static_cast<std::size_t>(y[i])];
    auto ls = log_softmax(s[i], 2), lt = log_softmax(t[i], 2);
    for (int k = 0; k < 3; ++k) kd += std::exp(lt[k]) * (lt[k] - ls[k]);
  }
  kd *= 4;  // T^2
  // Normalised [CLS]: student (3,4)/5=(.6,.8), (1,0); (0,1), (.7071,.7071);
  // teacher layer 1: (1,0), (0,1); layer 2: (0,1), (1,0).
  const double r = 1 / std::sqrt(2.0);
  double pt = 0;
  pt += std::pow(0.6 - 1, 2) + std::pow(0.8 - 0, 2);  // layer 1, example 0
  pt += std::pow(1 - 0, 2) + std::pow(0 - 1, 2);      // layer 1, example 1
  pt += std::pow(0 - 0, 2) + std::pow(1 - 1, 2);      // layer 2, example 0
  pt += std::pow(r - 1, 2) + std::pow(r - 0, 2);      // layer 2, example 1
  pt /= 2 * 2;  // mean over layers x hidden, summed over examples
  EXPECT_NEAR(out.ce.item<double>(), ce, 1e-12);
  EXPECT_NEAR(out.kd.item<double>(), kd, 1e-12);
  EXPECT_NEAR(out.pt.item<double>(), pt, 1e-12);
  EXPECT_NEAR(out.total.item<double>(), 0.3 * ce + 0.7 * kd + 100 * pt, 1e-10);

  // Switches: elementwise_mean divides KD by the classes, T^2 off, PT unnormalised.
  c.kd_reduction = "elementwise_mean";
  c.kd_t_squared = false;
  c.pt_normalize = false;
  out = PkdLoss(c, false)(S, labels, Tt, torch::stack(scls), tcls);
  EXPECT_NEAR(out.kd.item<double>(), kd / 4 / 3, 1e-12);
  double raw = 0;
  auto d = torch::stack(scls) - tcls;
  raw = d.pow(2).sum().item<double>() / 4;
  EXPECT_NEAR(out.pt.item<double>(), raw, 1e-12);
  // alpha = beta = 0: plain cross-entropy, teacher not needed.
  c.alpha = 0;
  c.beta = 0;
  out = PkdLoss(c, false)(S, labels, torch::Tensor(), torch::Tensor(), torch::Tensor());
  EXPECT_NEAR(out.total.item<double>(), ce, 1e-12);
}

// STS-B: one output. KD is the squared error to the teacher's prediction — never the constant
// zero of a softmax over one logit (the seed's bug).
TEST(PkdLoss, RegressionKdIsSquaredErrorToTheTeacher) {
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto S = torch::tensor({1.0, 3.0}, opts).reshape({2, 1});
  auto Tt = torch::tensor({2.0, 2.5}, opts).reshape({2, 1});
  auto gold = torch::tensor({0.0, 4.0}, opts);
  PkdLossConfig c;
  c.beta = 0;
  auto out = PkdLoss(c, true)(S, gold, Tt, torch::Tensor(), torch::Tensor());
  EXPECT_NEAR(out.ce.item<double>(), 1.0 + 1.0, 1e-12);
  EXPECT_NEAR(out.kd.item<double>(), 1.0 + 0.25, 1e-12);
}

// d total / d (student logits, student [CLS]) by autograd equals central differences.
TEST(PkdLoss, GradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  auto S = torch::randn({3, 4}, opts).requires_grad_(true);
  auto Tt = torch::randn({3, 4}, opts);
  auto labels = torch::tensor(std::vector<std::int64_t>{0, 3, 1}, torch::kLong);
  auto C1 = torch::randn({3, 5}, opts).requires_grad_(true);
  auto C2 = torch::randn({3, 5}, opts).requires_grad_(true);
  auto tcls = torch::randn({2, 3, 5}, opts);
  PkdLossConfig c;
  c.alpha = 0.4;
  c.beta = 10;
  c.temperature = 3;
  auto f = [&] { return PkdLoss(c, false)(S, labels, Tt, torch::stack({C1, C2}), tcls).total; };
  f().backward();
  for (auto* x : {&S, &C1, &C2}) {
    auto grad = x->grad().clone();
    auto flat = x->data().view({-1});
    for (std::int64_t i = 0; i < flat.numel(); ++i) {
      const double h = 1e-6, v = flat[i].item<double>();
      torch::NoGradGuard no_grad;
      flat[i] = v + h;
      const double up = f().item<double>();
      flat[i] = v - h;
      const double down = f().item<double>();
      flat[i] = v;
      EXPECT_NEAR(grad.view({-1})[i].item<double>(), (up - down) / (2 * h), 1e-6) << i;
    }
  }
}

}  // namespace
}  // namespace pkd::distill
