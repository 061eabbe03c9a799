// The trainer's session and checks before any work: loop validation, the run-control keys a
// resume ignores, the session (runtime, seed, index, the effective config) and the evaluation
// splits against the training split.
#include <algorithm>
#include <filesystem>

#include "config/document.h"
#include "config/keys.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"
#include "inference/predict.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"
#include "train/training_run.h"

namespace pkd::train {

void LoopConfig::validate(const std::string& t) const {
  if (train.empty()) usage_fail(t, ".train is required: a token split directory (--train)");
  if (output_dir.empty()) usage_fail(t, ".output_dir is required (--output-dir)");
  // Upper bounds far beyond any GLUE run, so that a typo cannot size a loop or an allocation
  // (a batch of 2^40 examples spun through 2^40 micro-batches before).
  constexpr std::int64_t kMaxBatch = 1 << 20, kMaxEpochs = 100000;
  if (epochs < 1 || epochs > kMaxEpochs)
    usage_fail(t, ".epochs must be in 1..", kMaxEpochs, ", got ", epochs);
  if (batch_size < 1 || batch_size > kMaxBatch)
    usage_fail(t, ".batch_size must be in 1..", kMaxBatch, " examples, got ", batch_size);
  if (gradient_accumulation_steps < 1 || gradient_accumulation_steps > batch_size)
    usage_fail(t, ".gradient_accumulation_steps must be in 1..batch_size (", batch_size, "), got ",
               gradient_accumulation_steps);
  if (window_examples < 0) usage_fail(t, ".window_examples must be >= 0, got ", window_examples);
  if (prefetch_steps < 0 || prefetch_steps > 16)
    usage_fail(t, ".prefetch_steps must be in 0..16, got ", prefetch_steps);
  if (eval_batch_size < 1 || eval_batch_size > kMaxBatch)
    usage_fail(t, ".eval_batch_size must be in 1..", kMaxBatch, " examples, got ", eval_batch_size);
  if (log_every < 1) usage_fail(t, ".log_every must be at least 1, got ", log_every);
  if (eval_every < 0)
    usage_fail(t, ".eval_every must be >= 0 (0 = at epoch ends only), got ", eval_every);
  if (eval_every > 0 && dev.empty())
    usage_fail(t, ".eval_every = ", eval_every, " needs a dev split to evaluate (", t, ".dev)");
  if (checkpoint_every < 0)
    usage_fail(t, ".checkpoint_every must be >= 0 (0 = epoch ends), got ", checkpoint_every);
  if (keep_checkpoints < 1)
    usage_fail(t, ".keep_checkpoints must be at least 1, got ", keep_checkpoints);
}

std::set<std::string> run_control_keys(const std::string& command) {
  LoopConfig loop;  // the keys, spelled by the struct that owns them
  std::set<std::string> keys;
  keys.insert(config::key_of(command.c_str(), loop, loop.resume));
  keys.insert(config::key_of(command.c_str(), loop, loop.stop_after_steps));
  keys.insert(config::key_of(command.c_str(), loop, loop.log_every));
  keys.insert(config::key_of(command.c_str(), loop, loop.checkpoint_every));
  keys.insert(config::key_of(command.c_str(), loop, loop.keep_checkpoints));
  keys.insert(config::key_of(command.c_str(), loop, loop.prefetch_steps));
  model::RuntimeConfig runtime;  // how much of the inputs is hashed does not change results
  keys.insert(config::key_of("runtime", runtime, runtime.verify));
  // Where and how long the ranks wait for each other: a job requeued after a network fault may
  // resume with longer timeouts or another interface.
  parallel::ReduceConfig reduce;
  keys.insert(config::key_of("parallel", reduce, reduce.gloo_interface));
  keys.insert(config::key_of("parallel", reduce, reduce.timeout_s));
  keys.insert(config::key_of("parallel", reduce, reduce.rendezvous_timeout_s));
  return keys;
}

namespace {

// The session's members are built in order: tables checked before the runtime applies one.
const model::RuntimeConfig& validated(const OptimizerConfig& optimizer,
                                      const parallel::ReduceConfig& reduce,
                                      const model::RuntimeConfig& runtime) {
  optimizer.validate();
  reduce.validate();
  return runtime;
}

// [optimizer], [runtime] and [parallel] as TOML (to_toml visits mutable copies).
std::string shared_tables(OptimizerConfig o, model::RuntimeConfig r, parallel::ReduceConfig p) {
  return config::to_toml("optimizer", o) + "\n" + config::to_toml("runtime", r) + "\n" +
         config::to_toml("parallel", p);
}

// Seeds LibTorch's generator first: every rank then draws the same initial model.
data::SplitIndex seeded_index(const LoopConfig& loop, const model::RuntimeConfig& runtime) {
  torch::manual_seed(static_cast<std::uint64_t>(loop.seed));
  return data::index_split(loop.train, runtime.verification());
}

}  // namespace

TrainingSession::TrainingSession(const LoopConfig& loop, const OptimizerConfig& optimizer,
                                 const model::RuntimeConfig& runtime,
                                 const parallel::ReduceConfig& reduce, mpi::Comm& comm)
    : loop_(loop),
      optimizer_(optimizer),
      runtime_config_(runtime),
      reduce_(reduce),
      comm_(comm),
      runtime_(validated(optimizer, reduce, runtime), mpi::local_rank_count()),
      index_(seeded_index(loop, runtime)) {}

model::TaskHead TrainingSession::task() const {
  return {index_.header.vocab_size, index_.header.regression, index_.header.label_names};
}

TrainResult TrainingSession::train(model::BertForSequenceClassification& model,
                                   Objective& objective, const RunTable& run) {
  inference::check_model_fits_tokens(model->config(), index_.header, run.model_name, loop_.train);
  inference::check_model_vocab(run.model_name, index_.header, loop_.train);
  check_eval_splits(loop_, index_, model->config(), run.model_name);
  model->to(runtime_.device());
  if (const auto extra = objective.trainable()) extra->to(runtime_.device());
  auto reducer = parallel::GradientReducer::create(reduce_, comm_, runtime_.device());
  comm_.set_collective_timeout(reduce_.timeout_s);
  // The effective config: the command's table, then the shared ones; and the same at defaults.
  TrainerSetup setup;
  setup.command = run.command;
  setup.effective_config = "# Effective configuration of the `pkd " + run.command +
                           "` run that wrote this directory.\n" + run.table_toml + "\n" +
                           shared_tables(optimizer_, runtime_config_, reduce_);
  setup.default_config = run.default_toml + "\n" + shared_tables({}, {}, {});
  setup.inputs = objective.inputs();
  setup.inputs["train"] = index_.content_sha256;
  setup.inputs["vocab"] = index_.header.vocab_sha256;
  setup.vocab_path = (std::filesystem::path(loop_.train).parent_path() / "vocab.txt").string();
  if (!file_exists(setup.vocab_path)) setup.vocab_path.clear();
  return run_training(loop_, optimizer_, runtime_, *reducer, comm_, model, index_, objective,
                      setup);
}

namespace {

// Fail now, not after the first epoch: every split evaluated or predicted must be the same
// task, tokenized alike, and fit the model.
void check_eval_split(const std::string& split, const data::SplitIndex& train,
                      const model::BertConfig& model, const std::string& model_name,
                      bool needs_labels) {
  shards::TokenManifest m = shards::read_manifest(split);
  if (m.task != train.header.task || m.label_names != train.header.label_names)
    usage_fail("split '", split, "' is task ", m.task, " but the training split '", train.dir,
               "' is task ", train.header.task, ": evaluate on a split of the same task");
  if (m.shards.empty()) fail("'", split, "' has no token shards");
  const auto first = shards::read_token_shard(split, m, 0, train.verification);
  const auto& header = first.header;
  if (header.vocab_sha256 != train.header.vocab_sha256)
    usage_fail("split '", split, "' was tokenized with another vocabulary than '", train.dir,
               "' (vocab sha256 ", header.vocab_sha256.substr(0, 12), "... vs ",
               train.header.vocab_sha256.substr(0, 12), "...)");
  inference::check_model_fits_tokens(model, header, model_name, split);
  if (needs_labels) {  // scored with the official metric: a test split has no gold labels
    const bool labeled =
        header.regression
            ? std::any_of(first.scores.begin(), first.scores.end(), [](float x) { return x == x; })
            : std::any_of(first.labels.begin(), first.labels.end(), [](auto l) { return l >= 0; });
    if (!labeled)
      usage_fail("split '", split, "' (", header.split, ") has no gold labels: dev and extra_dev ",
                 "must be labeled splits; predict test splits with test or extra_test");
  }
}

}  // namespace

void check_eval_splits(const LoopConfig& loop, const data::SplitIndex& train,
                       const model::BertConfig& model, const std::string& model_name) {
  std::vector<std::string> labeled = loop.extra_dev, unlabeled = loop.extra_test;
  if (!loop.dev.empty()) labeled.insert(labeled.begin(), loop.dev);
  if (!loop.test.empty()) unlabeled.insert(unlabeled.begin(), loop.test);
  for (const auto& split : labeled) check_eval_split(split, train, model, model_name, true);
  for (const auto& split : unlabeled) check_eval_split(split, train, model, model_name, false);
}

}  // namespace pkd::train
