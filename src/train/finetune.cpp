#include "train/finetune.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "config/document.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "data/batching.h"
#include "data/sampler.h"
#include "inference/predict.h"
#include "metrics/glue_metrics.h"
#include "model/checkpoint.h"
#include "shards/manifest.h"

namespace pkd::train {
namespace {

// The model to train: from a checkpoint (its classifier replaced when it does not fit the task)
// or drawn at random.
model::BertForSequenceClassification build_model(const FinetuneConfig& c,
                                                 const shards::TokenShardHeader& tokens) {
  const std::int64_t outputs =
      tokens.regression ? 1 : static_cast<std::int64_t>(tokens.label_names.size());
  auto fit_task = [&](model::BertConfig& cfg) {
    cfg.num_labels = outputs;
    cfg.labels = tokens.regression ? std::vector<std::string>{"LABEL_0"} : tokens.label_names;
    cfg.problem_type = tokens.regression ? "regression" : "single_label_classification";
  };
  if (c.init == "random") {
    model::BertConfig cfg;
    cfg.vocab_size = tokens.vocab_size;
    cfg.hidden_size = c.random_init.hidden_size;
    cfg.num_hidden_layers = c.random_init.num_hidden_layers;
    cfg.num_attention_heads = c.random_init.num_attention_heads;
    cfg.intermediate_size = c.random_init.intermediate_size;
    cfg.max_position_embeddings = c.random_init.max_position_embeddings;
    cfg.hidden_dropout_prob = c.random_init.hidden_dropout_prob;
    cfg.attention_probs_dropout_prob = c.random_init.attention_probs_dropout_prob;
    fit_task(cfg);
    cfg.validate("finetune.random_init");
    model::BertForSequenceClassification m(cfg);
    m->init_weights();
    return m;
  }
  model::BertConfig cfg = model::BertConfig::load(c.init + "/config.json");
  fit_task(cfg);
  model::BertForSequenceClassification m(cfg);
  m->init_weights();
  model::StateDict weights = model::read_checkpoint_dir(c.init);
  for (const char* name : {"classifier.weight", "classifier.bias"}) {
    auto it = weights.find(name);
    if (it != weights.end() && it->second.size(0) != outputs) {
      log_warn("'", c.init, "' has a ", it->second.size(0), "-way classifier; the task needs ",
               outputs, ": it is drawn anew");
      weights.erase(it);
    }
  }
  log_info("initialised from '", c.init,
           "': ", model::load_state_dict(m, weights, "'" + c.init + "'").summary());
  return m;
}

}  // namespace

void FinetuneConfig::validate() const {
  if (init.empty())
    usage_fail("finetune.init is required: a HuggingFace model directory or \"random\" (--init)");
  if (train.empty()) usage_fail("finetune.train is required: a token split directory (--train)");
  if (output_dir.empty()) usage_fail("finetune.output_dir is required (--output-dir)");
  if (epochs < 1) usage_fail("finetune.epochs must be at least 1, got ", epochs);
  if (batch_size < 1) usage_fail("finetune.batch_size must be at least 1, got ", batch_size);
  if (eval_batch_size < 1)
    usage_fail("finetune.eval_batch_size must be at least 1, got ", eval_batch_size);
  if (log_every < 1) usage_fail("finetune.log_every must be at least 1, got ", log_every);
}

FinetuneResult run_finetune(const FinetuneConfig& c, const OptimizerConfig& oc,
                            const model::RuntimeConfig& rc, const parallel::ReduceConfig& reduce,
                            dist::Comm& comm) {
  c.validate();
  oc.validate();
  model::Runtime runtime(rc, model::local_rank_count());
  torch::manual_seed(static_cast<std::uint64_t>(c.seed));  // same initialisation on every rank

  shards::TokenShard train = data::load_split(c.train);
  for (std::size_t k = 0; k < train.example_ids.size(); ++k)
    if (train.header.regression ? std::isnan(train.scores[k]) : train.labels[k] < 0)
      usage_fail("'", c.train,
                 "' has unlabeled examples (a test split?): train on a labeled split");
  auto m = build_model(c, train.header);
  inference::check_model_fits_tokens(m->config(), train.header, c.init, c.train);
  if (!c.dev.empty()) {
    // Fail now, not after the first epoch: the dev split must be the same task, tokenized alike.
    shards::TokenManifest dev = shards::read_manifest(c.dev);
    if (dev.task != train.header.task || dev.label_names != train.header.label_names)
      usage_fail("finetune.dev '", c.dev, "' is task ", dev.task, " but finetune.train '", c.train,
                 "' is task ", train.header.task, ": evaluate on a split of the same task");
    if (dev.shards.empty()) fail("'", c.dev, "' has no token shards");
    shards::TokenShardHeader dev_header =
        shards::read_token_shard_header(c.dev + "/" + dev.shards[0].file);
    if (dev_header.vocab_sha256 != train.header.vocab_sha256)
      usage_fail("finetune.dev '", c.dev,
                 "' was tokenized with another vocabulary than finetune.train '", c.train,
                 "' (vocab sha256 ", dev_header.vocab_sha256.substr(0, 12), "... vs ",
                 train.header.vocab_sha256.substr(0, 12), "...)");
    inference::check_model_fits_tokens(m->config(), dev_header, c.init, c.dev);
  }
  m->to(runtime.device());
  std::vector<torch::Tensor> params = m->parameters();
  auto reducer = parallel::GradientReducer::create(reduce, comm);
  {
    torch::NoGradGuard no_grad;
    reducer->broadcast(params);  // every rank starts from rank 0's weights
  }
  auto optimizer = make_adamw(*m, oc);
  // Dropout masks differ per rank but are reproducible per (seed, rank).
  torch::manual_seed(static_cast<std::uint64_t>(c.seed) * 1000003u +
                     static_cast<std::uint64_t>(comm.rank()));

  std::vector<std::int64_t> lengths;
  for (std::size_t k = 0; k + 1 < train.offsets.size(); ++k)
    lengths.push_back(train.offsets[k + 1] - train.offsets[k]);
  data::SamplerOptions so;
  so.global_batch_size = c.batch_size;
  so.seed = static_cast<std::uint64_t>(c.seed);
  so.bucket_batches = c.bucket_batches;
  data::DistributedBatchSampler sampler(lengths, so, comm.rank(), comm.size());
  const std::int64_t per_epoch = sampler.steps_per_epoch();
  const std::int64_t total =
      c.max_steps > 0 ? std::min(c.max_steps, c.epochs * per_epoch) : c.epochs * per_epoch;
  const auto warmup =
      static_cast<std::int64_t>(std::round(oc.warmup_proportion * static_cast<double>(total)));

  const bool regression = train.header.regression;
  const std::string metric = metrics::primary_metric(train.header.task, regression);
  if (comm.is_root()) make_directories(c.output_dir);
  std::string vocab = (std::filesystem::path(c.train).parent_path() / "vocab.txt").string();
  if (!file_exists(vocab)) vocab.clear();
  FinetuneResult result{0, NAN, metric};
  std::string metrics_lines;
  auto start = std::chrono::steady_clock::now();
  double interval_loss = 0;
  std::int64_t interval_examples = 0, step = 0;

  for (std::int64_t epoch = 0; epoch < c.epochs && step < total; ++epoch) {
    double epoch_loss = 0;
    std::int64_t epoch_examples = 0;
    const auto epoch_start = std::chrono::steady_clock::now();
    for (std::int64_t s = 0; s < per_epoch && step < total; ++s, ++step) {
      const auto local = sampler.local_batch(epoch, s);
      const auto global_n = static_cast<double>(sampler.global_batch(epoch, s).size());
      m->train();
      optimizer->zero_grad();
      auto loss_sum = torch::zeros({1});
      if (!local.empty()) {
        data::Batch b = data::collate(train, local);
        auto logits = m(b.input_ids.to(runtime.device()), b.token_type_ids.to(runtime.device()),
                        b.attention_mask.to(runtime.device()))
                          .logits;
        auto labels = b.labels.to(runtime.device());
        torch::Tensor sum =
            regression
                ? torch::mse_loss(logits.squeeze(-1), labels, at::Reduction::Sum)
                : torch::nn::functional::cross_entropy(
                      logits, labels,
                      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
        (sum / global_n).backward();  // summed over ranks below: the mean over the global batch
        loss_sum = sum.detach().to(torch::kCPU).reshape({1});
      }
      std::vector<torch::Tensor> grads;
      for (auto& p : params) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        grads.push_back(p.grad());
      }
      grads.push_back(loss_sum);
      reducer->allreduce_sum(grads);
      if (oc.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, oc.max_grad_norm);
      set_learning_rate(*optimizer, oc.learning_rate * linear_schedule(step, warmup, total));
      optimizer->step();
      interval_loss += loss_sum.item<double>();
      interval_examples += static_cast<std::int64_t>(global_n);
      epoch_loss += loss_sum.item<double>();
      epoch_examples += static_cast<std::int64_t>(global_n);
      if ((step + 1) % c.log_every == 0 || step + 1 == total) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log_info("step ", step + 1, "/", total, " epoch ", epoch + 1, " loss ",
                 interval_loss / std::max<std::int64_t>(1, interval_examples), " lr ",
                 oc.learning_rate * linear_schedule(step, warmup, total), " ",
                 static_cast<std::int64_t>(static_cast<double>(step + 1) * c.batch_size / seconds),
                 " examples/s, ETA ",
                 static_cast<std::int64_t>(seconds / static_cast<double>(step + 1) *
                                           static_cast<double>(total - step - 1)),
                 " s");
        interval_loss = 0;
        interval_examples = 0;
      }
    }
    const double epoch_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    nlohmann::json line = {
        {"epoch", epoch + 1},
        {"step", step},
        {"train_loss", epoch_loss / std::max<std::int64_t>(1, epoch_examples)},
        {"learning_rate", oc.learning_rate * linear_schedule(step, warmup, total)},
        {"examples_per_s", static_cast<double>(epoch_examples) / epoch_seconds}};
    bool better = c.dev.empty();
    if (!c.dev.empty()) {
      auto p = inference::predict_split(m, runtime, c.dev, c.eval_batch_size, comm);
      if (comm.is_root()) {
        auto dev_metrics = inference::split_metrics(p);
        line[p.split] = dev_metrics;
        const double value = dev_metrics.at(metric);
        better = std::isnan(result.best_metric) || value > result.best_metric;
        if (better) {
          result.best_metric = value;
          write_file_atomic(c.output_dir + "/eval_results.json",
                            nlohmann::json({{p.split, dev_metrics}}).dump(2) + "\n");
        }
        log_info("epoch ", epoch + 1, ": ", p.split, " ", metric, " ", value,
                 better ? " (best so far)" : "");
      }
      better = comm.broadcast(better ? "1" : "0") == "1";
    }
    if (comm.is_root()) {
      metrics_lines += line.dump() + "\n";
      write_file_atomic(c.output_dir + "/metrics.jsonl", metrics_lines);
      if (better) model::export_pretrained(m, c.output_dir + "/model", vocab);
    }
  }
  result.steps = step;
  if (comm.is_root()) {
    FinetuneConfig fc = c;
    OptimizerConfig ocopy = oc;
    model::RuntimeConfig rcopy = rc;
    parallel::ReduceConfig pcopy = reduce;
    write_file_atomic(
        c.output_dir + "/finetune.toml",
        "# Effective configuration of the `pkd finetune` run that wrote this directory.\n" +
            config::to_toml("finetune", fc) + "\n" + config::to_toml("optimizer", ocopy) + "\n" +
            config::to_toml("runtime", rcopy) + "\n" + config::to_toml("parallel", pcopy));
  }
  comm.barrier();
  return result;
}

}  // namespace pkd::train
