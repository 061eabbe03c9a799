#include <cstdio>

#include "commands.h"
#include "inference/cache_teacher.h"
#include "model_command.h"
#include "mpi/comm.h"

namespace pkd::cli {

int run_cache_teacher_command(const std::vector<std::string>& all_args) {
  inference::CacheTeacherConfig config;
  model::RuntimeConfig runtime;
  std::vector<std::string> args;
  bool dry_run = false;
  for (const auto& a : all_args) (a == "--dry-run" ? dry_run = true : (args.push_back(a), false));
  if (!parse_model_command(
          "cache-teacher", "cache_teacher",
          "Usage: pkd cache-teacher --model MODEL_DIR --tokens SPLIT_DIR --out FEATURES_SPLIT_DIR\n"
          "                         [--dtype float16|float32] [--batch-size N]\n"
          "                         [--layers ROWS] [--attention-layers LAYERS] [--dry-run]\n\n"
          "Runs the teacher once, in eval mode, over a split's token shards and writes its logits "
          "and\n"
          "the [CLS] vector of every layer: one feature shard per token shard, manifest last.\n"
          "--layers / --attention-layers also store every token's hidden state / the attention\n"
          "probabilities of those layers (token-level distillation). --dry-run prints the bytes "
          "it\n"
          "would write and writes nothing. Examples are batched by length with dynamic padding.\n"
          "Under mpirun/srun the ranks share the shards; re-running skips complete shards.\n",
          args, config, runtime))
    return 0;
  if (dry_run) {
    std::printf(
        "%s",
        inference::describe_estimate(inference::estimate_cache(config, runtime), config).c_str());
    return 0;
  }
  mpi::Comm& comm = mpi::Comm::world();
  inference::CacheSummary s = inference::run_cache_teacher(config, runtime, comm);
  if (comm.is_root()) {
    if (s.up_to_date)
      std::printf("%s: up to date (%lld examples in %lld shards)\n", config.out.c_str(),
                  static_cast<long long>(s.examples), static_cast<long long>(s.shards));
    else
      std::printf("%s: %lld examples in %lld shards, %lld shards computed in %.1f s\n",
                  config.out.c_str(), static_cast<long long>(s.examples),
                  static_cast<long long>(s.shards), static_cast<long long>(s.written), s.seconds);
  }
  return 0;
}

}  // namespace pkd::cli
