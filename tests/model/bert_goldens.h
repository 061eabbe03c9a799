#pragma once
// The float64 HuggingFace references of the golden random BERT (tests/data/bert/random-4L-64H:
// BertForSequenceClassification outputs for 116 examples, each computed alone) and how a pkd
// model is run and compared against them: test_bert.cpp and test_checkpoint.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "model/bert.h"
#include "model/hf_weights.h"
#include "shards/h5.h"
#include "support/test_support.h"

namespace pkd::model::goldens {

inline std::string golden_dir() {
  return test::source_dir() + "/tests/data/bert/random-4L-64H";
}

struct Reference {
  std::vector<std::vector<std::int64_t>> ids, types;
  torch::Tensor logits, pooled, cls_hidden;  // float64
};

inline const Reference& reference() {
  static const Reference r = [] {
    Reference r;
    h5::File f = h5::File::open_read(golden_dir() + "/reference.h5");
    auto ids = f.read<std::int64_t>("input_ids");
    auto types = f.read<std::int64_t>("token_type_ids");
    auto offsets = f.read<std::int64_t>("offsets");
    for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
      r.ids.emplace_back(ids.begin() + offsets[k], ids.begin() + offsets[k + 1]);
      r.types.emplace_back(types.begin() + offsets[k], types.begin() + offsets[k + 1]);
    }
    auto tensor = [&](const char* name) {
      auto info = f.dataset_info(name);
      auto data = f.read<double>(name);
      return torch::tensor(data, torch::kDouble).view(info.dims);
    };
    r.logits = tensor("logits");
    r.pooled = tensor("pooled");
    r.cls_hidden = tensor("cls_hidden");
    return r;
  }();
  return r;
}

inline BertForSequenceClassification model_from(const StateDict& weights, torch::ScalarType dtype) {
  BertForSequenceClassification m(BertConfig::load(golden_dir() + "/config.json"));
  load_state_dict(m, weights, "test");
  m->to(dtype);
  m->eval();
  return m;
}

struct Outputs {
  torch::Tensor logits, pooled, cls_hidden;  // [n, C], [n, H], [L+1, n, H], float64
};

// Runs the examples in batches of `batch`, right-padded to the longest in each batch, on `device`.
inline Outputs run(BertForSequenceClassification& m, std::size_t batch,
                   torch::Device device = torch::kCPU) {
  torch::NoGradGuard no_grad;
  const Reference& r = reference();
  std::vector<torch::Tensor> logits, pooled;
  std::vector<std::vector<torch::Tensor>> cls;
  for (std::size_t start = 0; start < r.ids.size(); start += batch) {
    std::size_t end = std::min(r.ids.size(), start + batch), longest = 0;
    for (std::size_t k = start; k < end; ++k) longest = std::max(longest, r.ids[k].size());
    auto ids =
        torch::zeros({static_cast<long>(end - start), static_cast<long>(longest)}, torch::kLong);
    auto types = torch::zeros_like(ids), mask = torch::zeros_like(ids);
    for (std::size_t k = start; k < end; ++k)
      for (std::size_t i = 0; i < r.ids[k].size(); ++i) {
        ids[k - start][i] = r.ids[k][i];
        types[k - start][i] = r.types[k][i];
        mask[k - start][i] = 1;
      }
    BertOutput out = m(ids.to(device), types.to(device), mask.to(device), HiddenStates::cls);
    logits.push_back(out.logits.to(torch::kCPU, torch::kDouble));
    pooled.push_back(out.pooled.to(torch::kCPU, torch::kDouble));
    cls.emplace_back();
    for (auto& h : out.hidden_states) cls.back().push_back(h.to(torch::kCPU, torch::kDouble));
  }
  Outputs o{torch::cat(logits), torch::cat(pooled), {}};
  std::vector<torch::Tensor> layers;
  for (std::size_t l = 0; l < cls[0].size(); ++l) {
    std::vector<torch::Tensor> parts;
    for (auto& c : cls) parts.push_back(c[l]);
    layers.push_back(torch::cat(parts));
  }
  o.cls_hidden = torch::stack(layers);
  return o;
}

inline double rel_err(const torch::Tensor& out, const torch::Tensor& ref) {
  return (out - ref).norm().item<double>() / ref.norm().item<double>();
}

inline void expect_matches_reference(const Outputs& o, double tolerance, const std::string& what) {
  const Reference& r = reference();
  EXPECT_LE(rel_err(o.logits, r.logits), tolerance) << what << ": logits";
  EXPECT_LE(rel_err(o.pooled, r.pooled), tolerance) << what << ": pooled";
  ASSERT_EQ(o.cls_hidden.size(0), r.cls_hidden.size(0));
  for (int l = 0; l < r.cls_hidden.size(0); ++l)
    EXPECT_LE(rel_err(o.cls_hidden[l], r.cls_hidden[l]), tolerance)
        << what << ": [CLS] of layer " << l;
  // Per example too: no example may hide behind the norm of the others.
  for (int k = 0; k < r.logits.size(0); ++k)
    ASSERT_LE(rel_err(o.logits[k], r.logits[k]), 10 * tolerance)
        << what << ": logits of example " << k;
}

}  // namespace pkd::model::goldens
