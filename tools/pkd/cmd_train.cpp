// `pkd finetune` and `pkd distill`: the two training commands share their options ([optimizer],
// [runtime], [parallel] besides their own table), their summary line and the preemption exit.
#include <cmath>
#include <cstdio>
#include <functional>

#include "command_line.h"
#include "commands.h"
#include "core/error.h"
#include "distill/distill.h"
#include "mpi/comm.h"
#include "train/finetune.h"
#include "train/preemption.h"

namespace pkd::cli {
namespace {

template <class Config>
using RunFn = std::function<train::TrainResult(const Config&, const train::OptimizerConfig&,
                                               const model::RuntimeConfig&,
                                               const parallel::ReduceConfig&, mpi::Comm&)>;

// The four tables a training command reads, and its command line parsed into them.
template <class Config>
struct TrainingCommand {
  Config config;
  train::OptimizerConfig optimizer;
  model::RuntimeConfig runtime;
  parallel::ReduceConfig reduce;
  std::vector<config::FlagSpec> flags;
  CommandLine cl;

  TrainingCommand(const char* name, const std::vector<std::string>& args) {
    for (auto more : {config::flags_of(name, config), config::flags_of("optimizer", optimizer),
                      config::flags_of("runtime", runtime), config::flags_of("parallel", reduce)})
      flags.insert(flags.end(), more.begin(), more.end());
    cl = parse_command_line(name, args, flags);
    if (cl.help) return;
    if (!cl.positional.empty())
      usage_fail("pkd ", name, " takes no positional arguments, got '", cl.positional[0], "'");
    cl.doc.check_tables({name, "optimizer", "runtime", "parallel"});
    cl.doc.read(name, config);
    cl.doc.read("optimizer", optimizer);
    cl.doc.read("runtime", runtime);
    cl.doc.read("parallel", reduce);
  }
};

template <class Config>
int run_training_command(const char* name, const std::vector<std::string>& args, const char* usage,
                         RunFn<Config> run) {
  TrainingCommand<Config> c(name, args);
  if (c.cl.help) {
    std::printf("%s\nOptions ([%s], [optimizer], [runtime] and [parallel] config tables):\n%s\n%s",
                usage, name, config::format_flag_help(c.flags).c_str(),
                common_flags_help().c_str());
    return 0;
  }
  mpi::Comm& comm = mpi::Comm::world();
  train::TrainResult r = run(c.config, c.optimizer, c.runtime, c.reduce, comm);
  if (r.preempted) return train::kExitPreempted;
  if (comm.is_root()) {
    const std::string& out = c.config.loop.output_dir;
    if (std::isnan(r.best_metric))
      std::printf("%s: %lld steps; final model in %s/model\n", out.c_str(),
                  static_cast<long long>(r.steps), out.c_str());
    else
      std::printf("%s: %lld steps; best dev %s %.4f, model in %s/model\n", out.c_str(),
                  static_cast<long long>(r.steps), r.metric_name.c_str(), r.best_metric,
                  out.c_str());
  }
  return 0;
}

template <class Config>
void check_config(const char* name, const std::vector<std::string>& args) {
  TrainingCommand<Config> c(name, args);
  c.config.validate();
  c.optimizer.validate();
  c.reduce.validate();
}

}  // namespace

void check_training_config(const std::string& command, const std::vector<std::string>& args) {
  if (command == "finetune")
    check_config<train::FinetuneConfig>("finetune", args);
  else if (command == "distill")
    check_config<distill::DistillConfig>("distill", args);
  else
    fail("internal: check_training_config of '", command, "'");
}

int run_finetune_command(const std::vector<std::string>& args) {
  return run_training_command<train::FinetuneConfig>(
      "finetune", args,
      "Usage: pkd finetune --init MODEL_DIR|random --train SPLIT_DIR [--dev SPLIT_DIR] "
      "--output-dir DIR\n\n"
      "Fine-tunes BertForSequenceClassification on token shards, data-parallel over the ranks of\n"
      "the job (gradients summed with NCCL on GPUs, Gloo or MPI). After each epoch the dev split\n"
      "is evaluated with the official metric (and every --eval-every steps); the best evaluation\n"
      "is exported to DIR/model (HuggingFace format), its metrics to DIR/eval_results.json,\n"
      "every evaluation to DIR/metrics.jsonl; checkpoints go to DIR/checkpoints (--resume\n"
      "continues; `pkd eval --model DIR/checkpoints/step-N` scores one). Exit status 75:\n"
      "preempted, checkpoint saved.\n",
      train::run_finetune);
}

int run_distill_command(const std::vector<std::string>& args) {
  return run_training_command<distill::DistillConfig>(
      "distill", args,
      "Usage: pkd distill --teacher MODEL_DIR --features FEATURE_SPLIT_DIR --train SPLIT_DIR\n"
      "                   [--dev SPLIT_DIR] --output-dir DIR [--student-layers K] [--alpha A]\n"
      "                   [--beta B] [--temperature T] [--layer-map skip|last|2,4,...]\n"
      "                   [--student-init PRETRAINED_DIR|teacher|random] [--online-teacher]\n\n"
      "Patient Knowledge Distillation: trains a K-layer student (initialised from the embeddings\n"
      "and first K layers of --student-init: a pretrained BERT, as the paper does, or the\n"
      "teacher) with L = (1-alpha) CE + alpha KD(T) + beta PT, reading the\n"
      "teacher's cached logits and [CLS] vectors (pkd cache-teacher) instead of running it.\n"
      "alpha = beta = 0 is plain fine-tuning, beta = 0 vanilla KD. Outputs as pkd finetune.\n",
      distill::run_distill);
}

}  // namespace pkd::cli
