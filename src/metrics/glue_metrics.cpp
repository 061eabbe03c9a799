#include "metrics/glue_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace pkd::metrics {
namespace {

template <class A, class B>
void check_sizes(const std::vector<A>& a, const std::vector<B>& b) {
  if (a.size() != b.size()) fail("metrics: ", a.size(), " predictions for ", b.size(), " labels");
  if (a.empty()) fail("metrics: no examples");
}

std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double average = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = average;
    i = j + 1;
  }
  return r;
}

}  // namespace

double accuracy(const std::vector<std::int64_t>& p, const std::vector<std::int64_t>& g) {
  check_sizes(p, g);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < p.size(); ++i) correct += p[i] == g[i];
  return static_cast<double>(correct) / static_cast<double>(p.size());
}

double f1_positive(const std::vector<std::int64_t>& p, const std::vector<std::int64_t>& g) {
  check_sizes(p, g);
  double tp = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    tp += p[i] == 1 && g[i] == 1;
    fp += p[i] == 1 && g[i] != 1;
    fn += p[i] != 1 && g[i] == 1;
  }
  return tp == 0 ? 0.0 : 2 * tp / (2 * tp + fp + fn);
}

double matthews_corr(const std::vector<std::int64_t>& p, const std::vector<std::int64_t>& g) {
  check_sizes(p, g);
  const std::int64_t k =
      std::max(*std::max_element(p.begin(), p.end()), *std::max_element(g.begin(), g.end())) + 1;
  std::vector<double> pred_count(static_cast<std::size_t>(k)),
      true_count(static_cast<std::size_t>(k));
  double correct = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    ++pred_count[static_cast<std::size_t>(p[i])];
    ++true_count[static_cast<std::size_t>(g[i])];
    correct += p[i] == g[i];
  }
  const double n = static_cast<double>(p.size());
  double pt = 0, pp = 0, tt = 0;
  for (std::size_t c = 0; c < pred_count.size(); ++c) {
    pt += pred_count[c] * true_count[c];
    pp += pred_count[c] * pred_count[c];
    tt += true_count[c] * true_count[c];
  }
  const double denominator = std::sqrt((n * n - pp) * (n * n - tt));
  return denominator == 0 ? 0.0 : (correct * n - pt) / denominator;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n,
               my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx == 0 || syy == 0 ? 0.0 : sxy / std::sqrt(sxx * syy);
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  return pearson(ranks(x), ranks(y));
}

std::map<std::string, double> classification_metrics(const std::string& task,
                                                     const std::vector<std::int64_t>& p,
                                                     const std::vector<std::int64_t>& g) {
  std::map<std::string, double> m{{"accuracy", accuracy(p, g)}};
  if (task == "CoLA") m["matthews_correlation"] = matthews_corr(p, g);
  if (task == "MRPC" || task == "QQP") {
    m["f1"] = f1_positive(p, g);
    m["combined_score"] = (m["accuracy"] + m["f1"]) / 2;
  }
  return m;
}

std::map<std::string, double> regression_metrics(const std::vector<double>& p,
                                                 const std::vector<double>& g) {
  std::map<std::string, double> m{{"pearson", pearson(p, g)}, {"spearmanr", spearman(p, g)}};
  m["combined_score"] = (m["pearson"] + m["spearmanr"]) / 2;
  return m;
}

std::string primary_metric(const std::string& task, bool regression) {
  if (regression) return "pearson";
  if (task == "CoLA") return "matthews_correlation";
  if (task == "MRPC" || task == "QQP") return "f1";
  return "accuracy";
}

}  // namespace pkd::metrics
