#include <cmath>
#include <cstdio>

#include "command_line.h"
#include "commands.h"
#include "core/error.h"
#include "dist/comm.h"
#include "train/finetune.h"

namespace pkd::cli {

int run_finetune_command(const std::vector<std::string>& args) {
  train::FinetuneConfig config;
  train::OptimizerConfig optimizer;
  model::RuntimeConfig runtime;
  parallel::ReduceConfig reduce;
  std::vector<config::FlagSpec> flags;
  for (auto more : {config::flags_of("finetune", config), config::flags_of("optimizer", optimizer),
                    config::flags_of("runtime", runtime), config::flags_of("parallel", reduce)})
    flags.insert(flags.end(), more.begin(), more.end());
  CommandLine cl = parse_command_line("finetune", args, flags);
  if (cl.help) {
    std::printf(
        "Usage: pkd finetune --init MODEL_DIR|random --train SPLIT_DIR [--dev SPLIT_DIR] "
        "--output-dir DIR\n\n"
        "Fine-tunes BertForSequenceClassification on token shards, data-parallel over the ranks "
        "of\n"
        "the job (gradients summed with Gloo or MPI). After each epoch the dev split is evaluated\n"
        "with the official metric; the best epoch is exported to DIR/model (HuggingFace format),\n"
        "its metrics to DIR/eval_results.json, every epoch to DIR/metrics.jsonl.\n\n"
        "Options ([finetune], [optimizer], [runtime] and [parallel] config tables):\n%s\n%s",
        config::format_flag_help(flags).c_str(), common_flags_help().c_str());
    return 0;
  }
  if (!cl.positional.empty())
    usage_fail("pkd finetune takes no positional arguments, got '", cl.positional[0], "'");
  cl.doc.check_tables({"finetune", "optimizer", "runtime", "parallel"});
  cl.doc.read("finetune", config);
  cl.doc.read("optimizer", optimizer);
  cl.doc.read("runtime", runtime);
  cl.doc.read("parallel", reduce);
  dist::Comm& comm = dist::Comm::world();
  train::FinetuneResult r = train::run_finetune(config, optimizer, runtime, reduce, comm);
  if (comm.is_root()) {
    if (std::isnan(r.best_metric))
      std::printf("%s: %lld steps; final model in %s/model\n", config.output_dir.c_str(),
                  static_cast<long long>(r.steps), config.output_dir.c_str());
    else
      std::printf("%s: %lld steps; best dev %s %.4f, model in %s/model\n",
                  config.output_dir.c_str(), static_cast<long long>(r.steps), r.metric_name.c_str(),
                  r.best_metric, config.output_dir.c_str());
  }
  return 0;
}

}  // namespace pkd::cli
