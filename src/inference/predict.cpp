#include "inference/predict.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "data/batching.h"
#include "metrics/glue_metrics.h"
#include "model/hf_weights.h"
#include "shards/manifest.h"

namespace pkd::inference {

void check_model_vocab(const std::string& model_dir, const shards::TokenShardHeader& tokens,
                       const std::string& token_dir) {
  if (!is_directory(model_dir)) return;  // "random": no vocabulary of its own
  const std::string vocab = model_dir + "/vocab.txt";
  if (!file_exists(vocab)) {
    static std::set<std::string> warned;  // a student initialised from its teacher: once
    if (!warned.insert(model_dir).second) return;
    log_warn("the model '", model_dir,
             "' has no vocab.txt: not checked that its vocabulary is the ", "one tokens in '",
             token_dir, "' were made with (sha256 ", tokens.vocab_sha256.substr(0, 12), "...)");
    return;
  }
  const std::string sha = sha256_file(vocab);
  if (sha != tokens.vocab_sha256)
    usage_fail("the model '", model_dir, "' has another vocabulary than tokens in '", token_dir,
               "' were made with: '", vocab, "' has sha256 ", sha.substr(0, 12),
               "..., the tokens' vocabulary ", tokens.vocab_sha256.substr(0, 12),
               "...: tokenize with the model's vocab.txt");
}

void check_model_fits_tokens(const model::BertConfig& m, const shards::TokenShardHeader& tokens,
                             const std::string& model_dir, const std::string& token_dir) {
  if (tokens.vocab_size > m.vocab_size)
    usage_fail("tokens in '", token_dir, "' use a ", tokens.vocab_size,
               "-token vocabulary, the model '", model_dir, "' has vocab_size ", m.vocab_size,
               ": tokenize with the model's vocab.txt");
  if (tokens.max_seq_length > m.max_position_embeddings)
    usage_fail("tokens in '", token_dir, "' are up to ", tokens.max_seq_length,
               " long, the model has ", m.max_position_embeddings, " positions");
  const std::int64_t task_outputs =
      tokens.regression ? 1 : static_cast<std::int64_t>(tokens.label_names.size());
  if (task_outputs != m.num_labels)
    usage_fail("the model '", model_dir, "' has ", m.num_labels, " outputs but task ", tokens.task,
               " has ", task_outputs, tokens.regression ? " (regression)" : " labels",
               ": is this a model of this task?");
}

bool SplitPredictions::labeled() const {
  for (std::size_t i = 0; i < example_ids.size(); ++i)
    if (regression ? std::isnan(gold_scores[i]) : gold_labels[i] < 0) return false;
  return !example_ids.empty();
}

std::vector<std::int64_t> SplitPredictions::predicted_labels() const {
  std::vector<std::int64_t> out;
  for (const auto& l : logits) out.push_back(std::max_element(l.begin(), l.end()) - l.begin());
  return out;
}

std::vector<double> SplitPredictions::predicted_scores() const {
  std::vector<double> out;
  for (const auto& l : logits) out.push_back(l.at(0));
  return out;
}

SplitPredictions predict_split(model::BertForSequenceClassification& m,
                               const model::Runtime& runtime, const std::string& token_dir,
                               std::int64_t batch_size, mpi::Comm& comm) {
  shards::TokenManifest manifest = shards::read_manifest(token_dir);
  const shards::Verification verification = runtime.config().verification();
  m->eval();
  torch::InferenceMode inference;
  std::ostringstream local;  // "id label score logit logit ...\n" per example of this rank's shards
  local.precision(9);
  for (std::size_t s = 0; s < manifest.shards.size(); ++s) {
    if (static_cast<int>(s % static_cast<std::size_t>(comm.size())) != comm.rank()) continue;
    shards::TokenShard shard = shards::read_token_shard(token_dir, manifest, s, verification);
    for (const auto& rows : data::length_sorted_batches(shard, batch_size)) {
      data::Batch b = data::collate(shard, rows);
      torch::Tensor logits;
      {
        model::Runtime::Autocast autocast(runtime);
        logits = m(b.input_ids.to(runtime.device()), b.token_type_ids.to(runtime.device()),
                   b.attention_mask.to(runtime.device()))
                     .logits.to(torch::kCPU, torch::kFloat);
      }
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto k = static_cast<std::size_t>(rows[i]);
        local << shard.example_ids[k] << ' ' << (shard.header.regression ? -1 : shard.labels[k])
              << ' ' << (shard.header.regression ? shard.scores[k] : NAN);
        for (std::int64_t c = 0; c < logits.size(1); ++c)
          local << ' ' << logits[static_cast<long>(i)][c].item<float>();
        local << '\n';
      }
    }
  }
  SplitPredictions p;
  p.task = manifest.task;
  p.split = manifest.split;
  p.label_names = manifest.label_names;
  p.regression = manifest.regression;
  std::vector<std::string> parts = comm.gather(local.str());
  if (!comm.is_root()) return p;
  std::map<std::int64_t, std::string> by_id;
  for (const auto& part : parts) {
    std::istringstream in(part);
    std::string line;
    while (std::getline(in, line)) by_id[std::stoll(line)] = line;
  }
  for (const auto& [id, line] : by_id) {
    std::istringstream in(line);
    std::int64_t example_id, label;
    std::string score;
    in >> example_id >> label >> score;
    std::vector<float> logits;
    for (float v; in >> v;) logits.push_back(v);
    p.example_ids.push_back(example_id);
    p.gold_labels.push_back(label);
    p.gold_scores.push_back(score == "nan" ? NAN : std::stof(score));
    p.logits.push_back(logits);
  }
  // Each shard's ids increase (checked when read); across shards they must not repeat either.
  if (static_cast<std::int64_t>(p.example_ids.size()) != manifest.num_examples)
    fail("'", token_dir, "' holds ", manifest.num_examples, " examples but only ",
         p.example_ids.size(), " distinct example ids: its shards overlap (re-run `pkd tokenize`)");
  return p;
}

std::map<std::string, double> split_metrics(const SplitPredictions& p) {
  if (!p.labeled())
    fail("split '", p.split, "' of ", p.task, " has no labels: use `pkd predict` for test splits");
  if (p.regression) {
    std::vector<double> gold(p.gold_scores.begin(), p.gold_scores.end());
    return metrics::regression_metrics(p.predicted_scores(), gold);
  }
  return metrics::classification_metrics(p.task, p.predicted_labels(), p.gold_labels);
}

namespace {

model::BertForSequenceClassification load_for(const std::string& model_dir,
                                              const std::string& token_dir,
                                              const model::Runtime& runtime) {
  shards::TokenManifest manifest = shards::read_manifest(token_dir);
  if (manifest.shards.empty()) fail("'", token_dir, "' has no token shards");
  model::LoadReport report;
  auto m = model::load_pretrained(model_dir, &report);
  if (report.classifier_initialized)
    usage_fail("the model '", model_dir,
               "' has no classifier weights: it is not a fine-tuned model");
  const auto header =
      shards::read_token_shard_header(token_dir, manifest, 0, runtime.config().verification());
  check_model_fits_tokens(m->config(), header, model_dir, token_dir);
  check_model_vocab(model_dir, header, token_dir);
  m->to(runtime.device());
  return m;
}

void require(const std::string& value, const char* key, const char* table) {
  if (value.empty()) usage_fail(table, ".", key, " is required (--", key, ")");
}

// The part eval and predict share: check the keys, load the model, run it over the split.
SplitPredictions predict_for(const char* table, const std::string& model_dir,
                             const std::string& token_dir, std::int64_t batch_size,
                             const model::RuntimeConfig& rc, mpi::Comm& comm) {
  require(model_dir, "model", table);
  require(token_dir, "tokens", table);
  if (batch_size < 1) usage_fail(table, ".batch_size must be at least 1, got ", batch_size);
  model::Runtime runtime(rc, mpi::local_rank_count());
  auto m = load_for(model_dir, token_dir, runtime);
  return predict_split(m, runtime, token_dir, batch_size, comm);
}

}  // namespace

std::map<std::string, double> run_eval(const EvalConfig& c, const model::RuntimeConfig& rc,
                                       mpi::Comm& comm) {
  SplitPredictions p = predict_for("eval", c.model, c.tokens, c.batch_size, rc, comm);
  std::map<std::string, double> result;
  if (comm.is_root()) {
    result = split_metrics(p);
    if (!c.out.empty()) {
      nlohmann::json all = nlohmann::json::object();
      if (file_exists(c.out)) {
        try {
          all = nlohmann::json::parse(read_file(c.out));
        } catch (const nlohmann::json::exception& e) {
          fail("'", c.out, "' exists but is not JSON (", e.what(),
               "); remove it or choose another --out");
        }
      }
      all[p.split] = result;
      write_file_atomic(c.out, all.dump(2) + "\n");
    }
  }
  comm.barrier();
  return result;
}

std::string glue_submission_name(const std::string& task, const std::string& split) {
  if (task == "MNLI") return split == "test_mismatched" ? "MNLI-mm.tsv" : "MNLI-m.tsv";
  return task + ".tsv";
}

void write_submission(const SplitPredictions& p, const std::string& path) {
  std::string text = "index\tprediction\n";
  char buf[64];
  const auto labels = p.predicted_labels();
  for (std::size_t i = 0; i < p.example_ids.size(); ++i) {
    if (p.regression) {
      std::snprintf(buf, sizeof buf, "%.3f", p.logits[i].at(0));
      text += std::to_string(p.example_ids[i]) + "\t" + buf + "\n";
    } else {
      text += std::to_string(p.example_ids[i]) + "\t" +
              p.label_names.at(static_cast<std::size_t>(labels[i])) + "\n";
    }
  }
  write_file_atomic(path, text);
  log_info("wrote ", p.example_ids.size(), " predictions to ", path,
           " (GLUE's name for this file: ", glue_submission_name(p.task, p.split), ")");
}

std::int64_t run_predict(const PredictConfig& c, const model::RuntimeConfig& rc, mpi::Comm& comm) {
  require(c.out, "out", "predict");
  SplitPredictions p = predict_for("predict", c.model, c.tokens, c.batch_size, rc, comm);
  if (comm.is_root()) write_submission(p, c.out);
  comm.barrier();
  return static_cast<std::int64_t>(p.example_ids.size());
}

}  // namespace pkd::inference
