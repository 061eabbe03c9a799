#pragma once
// The official GLUE metrics, as HuggingFace's glue_compute_metrics: accuracy; F1 of class 1
// (MRPC, QQP); Matthews correlation (CoLA); Pearson and Spearman correlation (STS-B).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pkd::metrics {

double accuracy(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& gold);
// F1 of the positive class (label 1); 0 when there is no true positive.
double f1_positive(const std::vector<std::int64_t>& predicted,
                   const std::vector<std::int64_t>& gold);
// Matthews correlation coefficient for any number of classes (sklearn's formula); 0 when undefined.
double matthews_corr(const std::vector<std::int64_t>& predicted,
                     const std::vector<std::int64_t>& gold);
double pearson(const std::vector<double>& x, const std::vector<double>& y);
// Spearman's rho: Pearson correlation of the ranks, ties get their average rank.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

// The metrics GLUE reports for `task` (canonical name, e.g. "MRPC"), keyed as HuggingFace's
// run_glue: accuracy, f1, matthews_correlation, pearson, spearmanr. Classification tasks pass
// class ids; regression tasks (STS-B, custom regression) pass scores.
std::map<std::string, double> classification_metrics(const std::string& task,
                                                     const std::vector<std::int64_t>& predicted,
                                                     const std::vector<std::int64_t>& gold);
std::map<std::string, double> regression_metrics(const std::vector<double>& predicted,
                                                 const std::vector<double>& gold);

// The metric that ranks runs of `task` (best epoch, best sweep cell): matthews_correlation for
// CoLA, f1 for MRPC and QQP, pearson for regression, accuracy otherwise.
std::string primary_metric(const std::string& task, bool regression);

}  // namespace pkd::metrics
