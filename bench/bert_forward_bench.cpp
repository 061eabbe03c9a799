// BERT forward throughput (inference): BERT-base shape, random weights, float32 on CPU, every
// position valid. Prints one JSON line per sequence length with sequences/s (median of the
// timed iterations), in the same format as bench/bert_forward_ref.py (PyTorch eager).
// Usage: pkd_bench_bert_forward --threads N [--lengths 32,128] [--batch 32] [--iters 10]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/strings.h"
#include "model/bert.h"

int main(int argc, char** argv) {
  int threads = 1, batch = 32, iters = 10;
  std::vector<int> lengths{32, 128};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads")
      threads = std::stoi(value);
    else if (flag == "--batch")
      batch = std::stoi(value);
    else if (flag == "--iters")
      iters = std::stoi(value);
    else if (flag == "--lengths") {
      lengths.clear();
      for (const auto& l : pkd::split(value, ',')) lengths.push_back(std::stoi(l));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  pkd::model::BertConfig config;  // BERT-base defaults
  pkd::model::BertForSequenceClassification model(config);
  model->init_weights();
  model->eval();
  torch::InferenceMode inference;
  for (int length : lengths) {
    auto ids = torch::randint(1000, 30000, {batch, length}, torch::kLong);
    auto types = torch::zeros_like(ids);
    auto mask = torch::ones_like(ids);
    for (int w = 0; w < 2; ++w) model(ids, types, mask);  // warm-up
    std::vector<double> ms;
    for (int it = 0; it < iters; ++it) {
      auto start = std::chrono::steady_clock::now();
      auto out = model(ids, types, mask);
      (void)out.logits.sum().item<float>();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    std::printf(
        "{\"impl\": \"pkd\", \"length\": %d, \"batch\": %d, \"threads\": %d, \"seq_per_s\": %.2f, "
        "\"ms_per_batch\": %.2f}\n",
        length, batch, threads, 1000.0 * batch / median, median);
    std::fflush(stdout);
  }
  return 0;
}
