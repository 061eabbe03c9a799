// GLUE metrics against values worked out by hand (and matching scikit-learn / SciPy).
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/glue_metrics.h"

namespace pkd::metrics {

TEST(Metrics, AccuracyAndF1) {
  EXPECT_DOUBLE_EQ(accuracy({1, 0, 1, 1}, {1, 1, 1, 0}), 0.5);
  // tp = 2, fp = 1, fn = 1: F1 = 2*2 / (2*2 + 1 + 1)
  EXPECT_DOUBLE_EQ(f1_positive({1, 1, 0, 0, 1}, {1, 0, 0, 1, 1}), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(f1_positive({0, 0}, {1, 0}), 0.0);
}

TEST(Metrics, MatthewsCorrelation) {
  // tp = 2, fp = 1, tn = 2, fn = 1: (tp*tn - fp*fn) / sqrt(3*3*3*3) = 1/3
  EXPECT_NEAR(matthews_corr({1, 1, 1, 0, 0, 0}, {1, 1, 0, 0, 0, 1}), 1.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(matthews_corr({1, 1, 1}, {1, 0, 1}),
                   0.0);  // constant prediction: undefined -> 0
  EXPECT_DOUBLE_EQ(matthews_corr({0, 1, 2}, {0, 1, 2}), 1.0);  // multi-class
}

TEST(Metrics, PearsonAndSpearmanWithTies) {
  EXPECT_NEAR(pearson({1, 2, 3, 4}, {2, 4, 6, 8}), 1.0, 1e-12);
  EXPECT_NEAR(pearson({1, 2, 3, 4}, {8, 6, 4, 2}), -1.0, 1e-12);
  // Ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: 4.5 / sqrt(4.5 * 5) (scipy: 0.9486833)
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), 4.5 / std::sqrt(22.5), 1e-12);
  EXPECT_NEAR(spearman({1, 10, 100}, {1, 2, 3}), 1.0, 1e-12);  // monotonic, not linear
}

TEST(Metrics, PerTaskSelection) {
  auto cola = classification_metrics("CoLA", {1, 0}, {1, 0});
  EXPECT_EQ(cola.count("matthews_correlation"), 1u);
  auto mrpc = classification_metrics("MRPC", {1, 0}, {1, 1});
  EXPECT_DOUBLE_EQ(mrpc.at("f1"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(mrpc.at("combined_score"), (0.5 + 2.0 / 3.0) / 2);
  EXPECT_EQ(classification_metrics("SST-2", {1}, {1}).size(), 1u);
  auto stsb = regression_metrics({1, 2, 3}, {1, 2, 3});
  EXPECT_NEAR(stsb.at("pearson"), 1.0, 1e-12);
  EXPECT_NEAR(stsb.at("spearmanr"), 1.0, 1e-12);
  EXPECT_EQ(primary_metric("CoLA", false), "matthews_correlation");
  EXPECT_EQ(primary_metric("QQP", false), "f1");
  EXPECT_EQ(primary_metric("STS-B", true), "pearson");
  EXPECT_EQ(primary_metric("RTE", false), "accuracy");
}

}  // namespace pkd::metrics
