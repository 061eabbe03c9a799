#pragma once
// `pkd eval` and `pkd predict`: a trained model over a token split. Ranks share the shards and
// rank 0 gathers the predictions; eval writes the official GLUE metrics, predict a GLUE
// submission file.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/bert.h"
#include "model/runtime.h"
#include "mpi/comm.h"
#include "shards/token_shard.h"
#include "shards/verify.h"

namespace pkd::inference {

// Fails when the model directory's vocab.txt is not the vocabulary the tokens were made with
// (sha256 of the file); warns, naming what was not checked, when the model has none. A
// `model_dir` that is not a directory ("random") has no vocabulary to check.
void check_model_vocab(const std::string& model_dir, const shards::TokenShardHeader& tokens,
                       const std::string& token_dir);

// Fails unless the model can read these tokens and predict these labels (vocabulary, positions,
// number of outputs).
void check_model_fits_tokens(const model::BertConfig& model, const shards::TokenShardHeader& tokens,
                             const std::string& model_dir, const std::string& token_dir);

struct SplitPredictions {
  std::string task, split;
  std::vector<std::string> label_names;  // empty for regression
  bool regression = false;
  std::vector<std::int64_t> example_ids;  // ascending
  std::vector<std::vector<float>> logits;
  std::vector<std::int64_t> gold_labels;  // -1 when unlabeled
  std::vector<float> gold_scores;         // NaN when unlabeled
  bool labeled() const;
  std::vector<std::int64_t> predicted_labels() const;  // argmax
  std::vector<double> predicted_scores() const;        // logits[:, 0] (regression)
};

// Every example of the token split through `model` (eval mode, no gradients, length-sorted
// batches). Complete on rank 0; empty elsewhere.
SplitPredictions predict_split(model::BertForSequenceClassification& model,
                               const model::Runtime& runtime, const std::string& token_dir,
                               std::int64_t batch_size, mpi::Comm& comm);

// A GLUE submission file: "index<TAB>prediction" per example (label strings; 3 decimals for
// regression), written atomically (rank 0's complete predictions).
void write_submission(const SplitPredictions& p, const std::string& path);
// GLUE's file name for a task's test split: "SST-2.tsv", "MNLI-m.tsv", ...
std::string glue_submission_name(const std::string& task, const std::string& split);

// Official metrics of a labeled split: {"accuracy": ..., "f1": ...}.
std::map<std::string, double> split_metrics(const SplitPredictions& p);

struct EvalConfig {
  std::string model;             // HuggingFace-format model directory
  std::string tokens;            // labeled token split directory
  std::string out;               // eval_results.json to create or update ("" = print only)
  std::int64_t batch_size = 64;  // examples per forward pass

  template <class V>
  void visit(V& v) {
    v.field("model", model, "HuggingFace-format model directory");
    v.field("tokens", tokens, "labeled token split directory (e.g. tokens/SST-2/dev)");
    v.field("out", out,
            "JSON file {split: {metric: value}} to create or update (\"\" = print only)");
    v.field("batch_size", batch_size, "examples per forward pass");
  }
};

struct PredictConfig {
  std::string model;
  std::string tokens;
  std::string out;  // GLUE submission TSV
  std::int64_t batch_size = 64;

  template <class V>
  void visit(V& v) {
    v.field("model", model, "HuggingFace-format model directory");
    v.field("tokens", tokens, "token split directory, usually a test split");
    v.field("out", out, "submission file to write: index<TAB>prediction (e.g. SST-2.tsv)");
    v.field("batch_size", batch_size, "examples per forward pass");
  }
};

// Returns the metrics (on rank 0).
std::map<std::string, double> run_eval(const EvalConfig& config,
                                       const model::RuntimeConfig& runtime, mpi::Comm& comm);
// Returns the number of predictions written (on rank 0).
std::int64_t run_predict(const PredictConfig& config, const model::RuntimeConfig& runtime,
                         mpi::Comm& comm);

}  // namespace pkd::inference
