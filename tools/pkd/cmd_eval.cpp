// `pkd eval` and `pkd predict`: the same model pass, two outputs.
#include <cstdio>

#include "commands.h"
#include "mpi/comm.h"
#include "inference/predict.h"
#include "model_command.h"

namespace pkd::cli {

int run_eval_command(const std::vector<std::string>& args) {
  inference::EvalConfig config;
  model::RuntimeConfig runtime;
  if (!parse_model_command(
          "eval", "eval",
          "Usage: pkd eval --model MODEL_DIR --tokens SPLIT_DIR [--out FILE.json]\n\n"
          "Evaluates a model on a labeled token split with GLUE's official metrics\n"
          "(accuracy; F1 for MRPC/QQP; Matthews correlation for CoLA; Pearson and\n"
          "Spearman for STS-B). --out creates or updates {split: {metric: value}}.\n",
          args, config, runtime))
    return 0;
  mpi::Comm& comm = mpi::Comm::world();
  auto metrics = inference::run_eval(config, runtime, comm);
  if (comm.is_root())
    for (const auto& [name, value] : metrics) std::printf("%s\t%.6f\n", name.c_str(), value);
  return 0;
}

int run_predict_command(const std::vector<std::string>& args) {
  inference::PredictConfig config;
  model::RuntimeConfig runtime;
  if (!parse_model_command(
          "predict", "predict",
          "Usage: pkd predict --model MODEL_DIR --tokens SPLIT_DIR --out FILE.tsv\n\n"
          "Writes a GLUE submission file for a token split (usually test):\n"
          "index<TAB>prediction, one row per example in index order, label strings\n"
          "(scores for STS-B). GLUE's names: CoLA.tsv, SST-2.tsv, MRPC.tsv,\n"
          "STS-B.tsv, QQP.tsv, MNLI-m.tsv, MNLI-mm.tsv, QNLI.tsv, RTE.tsv, WNLI.tsv.\n",
          args, config, runtime))
    return 0;
  mpi::Comm& comm = mpi::Comm::world();
  std::int64_t n = inference::run_predict(config, runtime, comm);
  if (comm.is_root())
    std::printf("%s: %lld predictions\n", config.out.c_str(), static_cast<long long>(n));
  return 0;
}

}  // namespace pkd::cli
