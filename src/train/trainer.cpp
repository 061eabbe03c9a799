#include "train/trainer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/document.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/strings.h"
#include "data/sampler.h"
#include "inference/predict.h"
#include "metrics/glue_metrics.h"
#include "train/checkpoint.h"
#include "train/preemption.h"

namespace pkd::train {
namespace {

// Elements [part * n / parts, (part + 1) * n / parts) of `v`: shares that differ by at most one.
std::vector<std::int64_t> share(const std::vector<std::int64_t>& v, std::size_t part,
                                std::size_t parts) {
  const std::size_t n = v.size();
  return {v.begin() + static_cast<long>(part * n / parts),
          v.begin() + static_cast<long>((part + 1) * n / parts)};
}

// Dropout's seed for one step of one rank: a checkpoint needs no RNG state, and a resumed run
// draws the same masks as an uninterrupted one.
std::uint64_t step_seed(std::int64_t seed, int rank, std::int64_t step) {
  std::uint64_t x = static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ull ^
                    (static_cast<std::uint64_t>(rank) << 40) ^ static_cast<std::uint64_t>(step);
  x ^= x >> 31;  // splitmix64 finaliser
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

model::StateDict model_state(model::BertForSequenceClassification& m) {
  model::StateDict s;
  for (const auto& p : m->named_parameters()) s[p.key()] = p.value();
  for (const auto& b : m->named_buffers()) s[b.key()] = b.value();
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Wall-clock seconds of the phases of the optimizer steps of an epoch, on this rank: where a
// step's time goes (metrics.jsonl "step_seconds", per step). On CUDA the phases are not
// synchronised, so kernels still running are counted in the phase that waits for them.
struct StepProfile {
  enum Phase { kData, kForwardBackward, kAllReduce, kOptimizer, kPhases };
  std::array<double, kPhases> seconds{};
  std::chrono::steady_clock::time_point mark = std::chrono::steady_clock::now();
  void end(Phase p) {
    const auto now = std::chrono::steady_clock::now();
    seconds[p] += std::chrono::duration<double>(now - mark).count();
    mark = now;
  }
  nlohmann::json per_step(std::int64_t steps) const {
    const double n = static_cast<double>(std::max<std::int64_t>(1, steps));
    return {{"data", seconds[kData] / n},
            {"forward_backward", seconds[kForwardBackward] / n},
            {"all_reduce", seconds[kAllReduce] / n},
            {"optimizer", seconds[kOptimizer] / n}};
  }
};

// After training, with the exported (best) weights: GLUE submission files of the test splits
// (OUTPUT_DIR/SST-2.tsv, MNLI-mm.tsv, ...) and the metrics of the extra dev splits, merged into
// eval_results.json.
void finish_with_best(const LoopConfig& loop, const model::Runtime& runtime, dist::Comm& comm,
                      model::BertForSequenceClassification& m, model::StateDict& best) {
  if (best.empty()) {  // a resumed run whose best epoch came before the interruption
    auto exported = model::read_checkpoint_dir(loop.output_dir + "/model");
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model_state(m)) {
      auto it = exported.find(name);
      if (it != exported.end()) t.copy_(it->second);
    }
  } else {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model_state(m)) t.copy_(best.at(name));
  }
  std::vector<std::string> tests = loop.extra_test;
  if (!loop.test.empty()) tests.insert(tests.begin(), loop.test);
  for (const auto& split : tests) {
    auto p = inference::predict_split(m, runtime, split, loop.eval_batch_size, comm);
    if (comm.is_root())
      inference::write_submission(
          p, loop.output_dir + "/" + inference::glue_submission_name(p.task, p.split));
  }
  if (loop.extra_dev.empty()) return;
  const std::string path = loop.output_dir + "/eval_results.json";
  nlohmann::json results = nlohmann::json::object();
  if (comm.is_root() && file_exists(path)) results = nlohmann::json::parse(read_file(path));
  for (const auto& split : loop.extra_dev) {
    auto p = inference::predict_split(m, runtime, split, loop.eval_batch_size, comm);
    if (comm.is_root()) {
      results[p.split] = inference::split_metrics(p);
      log_info("exported model: ", p.split, " ", results[p.split].dump());
    }
  }
  if (comm.is_root()) write_file_atomic(path, results.dump(2) + "\n");
}

}  // namespace

void LoopConfig::validate(const std::string& t) const {
  if (train.empty()) usage_fail(t, ".train is required: a token split directory (--train)");
  if (output_dir.empty()) usage_fail(t, ".output_dir is required (--output-dir)");
  if (epochs < 1) usage_fail(t, ".epochs must be at least 1, got ", epochs);
  if (batch_size < 1) usage_fail(t, ".batch_size must be at least 1, got ", batch_size);
  if (gradient_accumulation_steps < 1 || gradient_accumulation_steps > batch_size)
    usage_fail(t, ".gradient_accumulation_steps must be in 1..batch_size (", batch_size, "), got ",
               gradient_accumulation_steps);
  if (window_examples < 0) usage_fail(t, ".window_examples must be >= 0, got ", window_examples);
  if (eval_batch_size < 1)
    usage_fail(t, ".eval_batch_size must be at least 1, got ", eval_batch_size);
  if (log_every < 1) usage_fail(t, ".log_every must be at least 1, got ", log_every);
  if (checkpoint_every < 0)
    usage_fail(t, ".checkpoint_every must be >= 0 (0 = epoch ends), got ", checkpoint_every);
  if (keep_checkpoints < 1)
    usage_fail(t, ".keep_checkpoints must be at least 1, got ", keep_checkpoints);
}

std::string training_identity(const std::string& effective_config) {
  std::istringstream in(effective_config);
  std::string line, out;
  while (std::getline(in, line)) {
    const std::string key(trim(line.substr(0, line.find('='))));
    if (starts_with(trim(line), "#") || key == "resume" || key == "stop_after_steps" ||
        key == "log_every")
      continue;
    out += line + "\n";
  }
  return out;
}

TrainerSetup make_setup(const std::string& command, const std::string& command_table_toml,
                        const OptimizerConfig& optimizer, const model::RuntimeConfig& runtime,
                        const parallel::ReduceConfig& reduce, const std::string& train_split) {
  OptimizerConfig o = optimizer;  // to_toml visits mutable configs
  model::RuntimeConfig r = runtime;
  parallel::ReduceConfig p = reduce;
  TrainerSetup setup;
  setup.command = command;
  setup.effective_config = "# Effective configuration of the `pkd " + command +
                           "` run that wrote this directory.\n" + command_table_toml + "\n" +
                           config::to_toml("optimizer", o) + "\n" + config::to_toml("runtime", r) +
                           "\n" + config::to_toml("parallel", p);
  setup.vocab_path = (std::filesystem::path(train_split).parent_path() / "vocab.txt").string();
  if (!file_exists(setup.vocab_path)) setup.vocab_path.clear();
  return setup;
}

// Fail now, not after the first epoch: every split evaluated or predicted must be the same
// task, tokenized alike, and fit the model.
static void check_eval_split(const std::string& split, const data::SplitIndex& train,
                             const model::BertConfig& model, const std::string& model_name,
                             bool needs_labels) {
  shards::TokenManifest m = shards::read_manifest(split);
  if (m.task != train.header.task || m.label_names != train.header.label_names)
    usage_fail("split '", split, "' is task ", m.task, " but the training split '", train.dir,
               "' is task ", train.header.task, ": evaluate on a split of the same task");
  if (m.shards.empty()) fail("'", split, "' has no token shards");
  auto header = shards::read_token_shard_header(split + "/" + m.shards[0].file);
  if (header.vocab_sha256 != train.header.vocab_sha256)
    usage_fail("split '", split, "' was tokenized with another vocabulary than '", train.dir,
               "' (vocab sha256 ", header.vocab_sha256.substr(0, 12), "... vs ",
               train.header.vocab_sha256.substr(0, 12), "...)");
  inference::check_model_fits_tokens(model, header, model_name, split);
  if (needs_labels) {  // scored with the official metric: a test split has no gold labels
    const auto first = shards::read_token_shard(split + "/" + m.shards[0].file);
    const bool labeled =
        header.regression
            ? std::any_of(first.scores.begin(), first.scores.end(), [](float x) { return x == x; })
            : std::any_of(first.labels.begin(), first.labels.end(), [](auto l) { return l >= 0; });
    if (!labeled)
      usage_fail("split '", split, "' (", header.split, ") has no gold labels: dev and extra_dev ",
                 "must be labeled splits; predict test splits with test or extra_test");
  }
}

void check_eval_splits(const LoopConfig& loop, const data::SplitIndex& train,
                       const model::BertConfig& model, const std::string& model_name) {
  std::vector<std::string> labeled = loop.extra_dev, unlabeled = loop.extra_test;
  if (!loop.dev.empty()) labeled.insert(labeled.begin(), loop.dev);
  if (!loop.test.empty()) unlabeled.insert(unlabeled.begin(), loop.test);
  for (const auto& split : labeled) check_eval_split(split, train, model, model_name, true);
  for (const auto& split : unlabeled) check_eval_split(split, train, model, model_name, false);
}

TrainResult run_training(const LoopConfig& loop, const OptimizerConfig& oc,
                         const model::Runtime& runtime, parallel::GradientReducer& reducer,
                         dist::Comm& comm, model::BertForSequenceClassification& m,
                         const data::SplitIndex& index, const LossFunction& loss,
                         const TrainerSetup& setup) {
  install_preemption_handlers();
  std::vector<torch::Tensor> params = m->parameters();
  // The word embedding's gradient is zero outside the rows of the batch's tokens: ranks sum only
  // the rows any rank used (exact, and most of a BERT's gradient bytes are not sent).
  torch::Tensor word_embeddings = m->named_parameters()["bert.embeddings.word_embeddings.weight"];
  const bool sparse_embedding_sum = comm.size() > 1;
  std::vector<std::uint8_t> used_tokens;
  FusedAdamW optimizer(*m, oc);
  TrainState state;
  state.world_size = comm.size();
  state.config_sha256 = sha256_hex(training_identity(setup.effective_config));
  if (comm.is_root()) {
    make_directories(loop.output_dir);
    write_file_atomic(loop.output_dir + "/" + setup.command + ".toml", setup.effective_config);
  }

  // Resume: rank 0 reads the checkpoint and every rank receives its weights and moments.
  const bool found =
      comm.broadcast(comm.is_root() && has_checkpoint(loop.output_dir) ? "1" : "0") == "1";
  if (found && !loop.resume)
    usage_fail("'", loop.output_dir, "' already holds a checkpoint of a ", setup.command,
               " run: pass --resume to continue it, or choose another output_dir");
  std::string problem;
  if (found && comm.is_root()) {
    auto c = load_latest_checkpoint(loop.output_dir);
    if (c->state.config_sha256 != state.config_sha256) {
      problem = cat("checkpoint '", c->dir, "' was written with another configuration (see its ",
                    "config.toml): resume with the same settings, or choose another output_dir");
    } else {
      auto weights = model_state(m);
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : weights) {
        auto it = c->model.find(name);
        if (it == c->model.end() || it->second.sizes() != t.sizes())
          fail("checkpoint '", c->dir, "' lacks '", name, "' or has another shape");
        t.copy_(it->second);
      }
      optimizer.load_state(c->optimizer, "checkpoint '" + c->dir + "'");
      const std::int64_t world = state.world_size;
      state = c->state;
      if (state.world_size != world)
        log_warn("checkpoint '", c->dir, "' was written by ", state.world_size,
                 " ranks, this job has ", world, ": same math, but not bitwise the same run");
      state.world_size = world;
      log_info("resuming from '", c->dir, "': epoch ", state.epoch + 1, ", step ",
               state.global_step);
    }
  }
  problem = comm.broadcast(problem);
  if (!problem.empty()) usage_fail(problem);
  {
    torch::NoGradGuard no_grad;
    reducer.broadcast(params);  // every rank starts from rank 0's weights
    if (found) {
      std::vector<torch::Tensor> moments;
      for (auto& [name, t] : optimizer.state())
        if (name != "step") moments.push_back(t);
      reducer.broadcast(moments);
      auto position = comm.broadcast(cat(state.epoch, " ", state.step_in_epoch, " ",
                                         state.global_step, " ", optimizer.steps()));
      std::istringstream in(position);
      std::int64_t adam_steps = 0;
      in >> state.epoch >> state.step_in_epoch >> state.global_step >> adam_steps;
      optimizer.set_steps(adam_steps);
    }
  }

  data::SamplerOptions so;
  so.global_batch_size = loop.batch_size;
  so.seed = static_cast<std::uint64_t>(loop.seed);
  so.bucket_batches = loop.bucket_batches;
  so.window_examples = loop.window_examples;
  data::DistributedBatchSampler sampler(index.lengths, so, comm.rank(), comm.size(),
                                        index.shard_sizes);
  const std::int64_t all_steps = sampler.total_steps(loop.epochs);
  const std::int64_t total = loop.max_steps > 0 ? std::min(loop.max_steps, all_steps) : all_steps;
  const auto warmup =
      static_cast<std::int64_t>(std::round(oc.warmup_proportion * static_cast<double>(total)));
  data::WindowLoader loader(index, setup.features, /*require_labels=*/true);
  const bool regression = index.header.regression;
  const std::string metric = metrics::primary_metric(index.header.task, regression);
  const std::size_t nparts = setup.part_names.size();

  TrainResult result{state.global_step, state.best_metric, metric, false};
  model::StateDict best;  // the exported weights, for the test and extra splits after training
  const bool needs_best = !loop.test.empty() || !loop.extra_test.empty() || !loop.extra_dev.empty();
  auto keep_best = [&] {
    best.clear();
    for (auto& [name, t] : model_state(m)) best[name] = t.detach().clone();
  };
  std::int64_t step = state.global_step;
  auto save = [&](std::int64_t epoch, std::int64_t step_in_epoch) {
    state.epoch = epoch;
    state.step_in_epoch = step_in_epoch;
    state.global_step = step;
    state.best_metric = result.best_metric;
    if (comm.is_root())
      save_checkpoint(loop.output_dir, state, model_state(m), optimizer.state(),
                      setup.effective_config, loop.keep_checkpoints);
    comm.barrier();
  };
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t start_step = step;
  std::vector<double> interval(nparts + 1, 0.0);
  std::int64_t interval_examples = 0;

  for (std::int64_t epoch = state.epoch; epoch < loop.epochs && step < total; ++epoch) {
    const std::int64_t per_epoch = sampler.steps_per_epoch(epoch);
    std::vector<double> epoch_sums = state.epoch_sums;
    epoch_sums.resize(nparts + 1, 0.0);
    std::int64_t epoch_examples = state.epoch_examples;
    const auto epoch_start = std::chrono::steady_clock::now();
    StepProfile profile;
    std::int64_t profiled_steps = 0;
    bool stop = false;
    std::int64_t s = epoch == state.epoch ? state.step_in_epoch : 0;
    for (; s < per_epoch && step < total && !stop; ++s) {
      profile.mark = std::chrono::steady_clock::now();
      torch::manual_seed(step_seed(loop.seed, comm.rank(), step));
      loader.load(sampler.window_shards(epoch, s));
      const auto global = sampler.global_batch(epoch, s);
      const auto global_n = static_cast<double>(global.size());
      m->train();
      auto sums = torch::zeros({static_cast<std::int64_t>(nparts) + 1}, torch::kFloat);
      if (sparse_embedding_sum)
        used_tokens.assign(static_cast<std::size_t>(word_embeddings.size(0)), 0);
      const auto micro_batches = static_cast<std::size_t>(loop.gradient_accumulation_steps);
      for (std::size_t j = 0; j < micro_batches; ++j) {
        const auto local =
            share(share(global, j, micro_batches), static_cast<std::size_t>(comm.rank()),
                  static_cast<std::size_t>(comm.size()));
        if (local.empty()) continue;
        data::Batch b = loader.collate(local);
        if (sparse_embedding_sum) {
          const auto* ids = b.input_ids.data_ptr<std::int64_t>();
          for (std::int64_t t = 0; t < b.input_ids.numel(); ++t)
            used_tokens[static_cast<std::size_t>(ids[t])] = 1;
        }
        for (auto* t : {&b.input_ids, &b.token_type_ids, &b.attention_mask, &b.labels,
                        &b.teacher_logits, &b.teacher_cls})
          if (t->defined()) *t = t->to(runtime.device());
        profile.end(StepProfile::kData);
        LossSums out = loss(m, b);
        (out.total / global_n).backward();  // summed over ranks below: the global-batch mean
        sums[0] += out.total.detach().to(torch::kCPU).to(torch::kFloat);
        for (std::size_t k = 0; k < nparts; ++k)
          sums[static_cast<std::int64_t>(k) + 1] +=
              out.parts[k].detach().to(torch::kCPU).to(torch::kFloat);
        profile.end(StepProfile::kForwardBackward);
      }
      std::vector<torch::Tensor> grads;
      for (auto& p : params) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        if (!(sparse_embedding_sum && p.is_same(word_embeddings))) grads.push_back(p.grad());
      }
      torch::Tensor rows, row_grads;
      if (sparse_embedding_sum) {
        comm.any_each(used_tokens);
        std::vector<std::int64_t> ids;
        for (std::size_t t = 0; t < used_tokens.size(); ++t)
          if (used_tokens[t]) ids.push_back(static_cast<std::int64_t>(t));
        rows = torch::tensor(ids, torch::kLong).to(word_embeddings.device());
        row_grads = word_embeddings.grad().index_select(0, rows);
        grads.push_back(row_grads);
      }
      grads.push_back(sums);
      reducer.allreduce_sum(grads);
      if (sparse_embedding_sum) word_embeddings.mutable_grad().index_copy_(0, rows, row_grads);
      profile.end(StepProfile::kAllReduce);
      const double lr = oc.learning_rate * linear_schedule(step, warmup, total);
      optimizer.step(lr, clip_factor(params, oc.max_grad_norm));
      profile.end(StepProfile::kOptimizer);
      ++profiled_steps;
      ++step;
      for (std::size_t k = 0; k <= nparts; ++k) {
        const double v = sums[static_cast<std::int64_t>(k)].item<double>();
        interval[k] += v;
        epoch_sums[k] += v;
      }
      interval_examples += static_cast<std::int64_t>(global_n);
      epoch_examples += static_cast<std::int64_t>(global_n);
      if (step % loop.log_every == 0 || step == total) {
        const double seconds = seconds_since(start);
        const double done = static_cast<double>(step - start_step);
        std::string parts;
        for (std::size_t k = 0; k < nparts; ++k)
          parts += cat(
              " ", setup.part_names[k], " ",
              interval[k + 1] / static_cast<double>(std::max<std::int64_t>(1, interval_examples)));
        log_info("step ", step, "/", total, " epoch ", epoch + 1, " loss ",
                 interval[0] / static_cast<double>(std::max<std::int64_t>(1, interval_examples)),
                 parts, " lr ", lr, " ",
                 static_cast<std::int64_t>(done * static_cast<double>(loop.batch_size) / seconds),
                 " examples/s, ETA ",
                 static_cast<std::int64_t>(seconds / done * static_cast<double>(total - step)),
                 " s");
        std::fill(interval.begin(), interval.end(), 0.0);
        interval_examples = 0;
      }
      stop = comm.any(preemption_requested() || step == loop.stop_after_steps);
      const bool epoch_done = s + 1 == per_epoch || step == total;
      if (!epoch_done &&
          (stop || (loop.checkpoint_every > 0 && step % loop.checkpoint_every == 0))) {
        state.epoch_sums = epoch_sums;
        state.epoch_examples = epoch_examples;
        save(epoch, s + 1);
        if (stop) break;
      }
    }
    if (stop && s < per_epoch && step < total) {  // stopped mid-epoch: saved above
      log_info("stopped after step ", step,
               " (preemption): checkpoint saved; resume with --resume");
      result.steps = step;
      result.preempted = true;
      return result;
    }

    // Epoch end: history line, dev evaluation, best-epoch export, checkpoint.
    nlohmann::json line = {
        {"epoch", epoch + 1},
        {"step", step},
        {"train_loss",
         epoch_sums[0] / static_cast<double>(std::max<std::int64_t>(1, epoch_examples))},
        {"learning_rate", oc.learning_rate * linear_schedule(step, warmup, total)},
        {"examples_per_s", static_cast<double>(epoch_examples) / seconds_since(epoch_start)},
        {"step_seconds", profile.per_step(profiled_steps)}};
    log_debug("epoch ", epoch + 1, " seconds per step on this rank: ", line["step_seconds"].dump());
    for (std::size_t k = 0; k < nparts; ++k)
      line["train_" + setup.part_names[k]] =
          epoch_sums[k + 1] / static_cast<double>(std::max<std::int64_t>(1, epoch_examples));
    bool better = loop.dev.empty();
    if (!loop.dev.empty()) {
      auto p = inference::predict_split(m, runtime, loop.dev, loop.eval_batch_size, comm);
      if (comm.is_root()) {
        auto dev_metrics = inference::split_metrics(p);
        line[p.split] = dev_metrics;
        const double value = dev_metrics.at(metric);
        better = std::isnan(result.best_metric) || value > result.best_metric;
        if (better) {
          result.best_metric = value;
          write_file_atomic(loop.output_dir + "/eval_results.json",
                            nlohmann::json({{p.split, dev_metrics}}).dump(2) + "\n");
        }
        log_info("epoch ", epoch + 1, ": ", p.split, " ", metric, " ", value,
                 better ? " (best so far)" : "");
      }
      better = comm.broadcast(better ? "1" : "0") == "1";
    }
    if (comm.is_root()) {
      state.metrics_jsonl += line.dump() + "\n";
      write_file_atomic(loop.output_dir + "/metrics.jsonl", state.metrics_jsonl);
      if (better) model::export_pretrained(m, loop.output_dir + "/model", setup.vocab_path);
    }
    if (better && needs_best) keep_best();
    state.epoch_sums.clear();
    state.epoch_examples = 0;
    save(epoch + 1, 0);
    if (stop && step < total) {
      log_info("stopped after step ", step,
               " (preemption): checkpoint saved; resume with --resume");
      result.steps = step;
      result.preempted = true;
      return result;
    }
  }
  result.steps = step;
  if (needs_best) finish_with_best(loop, runtime, comm, m, best);
  comm.barrier();
  return result;
}

}  // namespace pkd::train
