#include <cstdio>

#include "commands.h"
#include "mpi/comm.h"
#include "inference/cache_teacher.h"
#include "model_command.h"

namespace pkd::cli {

int run_cache_teacher_command(const std::vector<std::string>& args) {
  inference::CacheTeacherConfig config;
  model::RuntimeConfig runtime;
  if (!parse_model_command(
          "cache-teacher", "cache_teacher",
          "Usage: pkd cache-teacher --model MODEL_DIR --tokens SPLIT_DIR --out FEATURES_SPLIT_DIR\n"
          "                         [--dtype float16|float32] [--batch-size N]\n\n"
          "Runs the teacher once, in eval mode, over a split's token shards and writes its logits "
          "and\n"
          "the [CLS] vector of every layer: one feature shard per token shard, manifest last.\n"
          "Examples are batched by length with dynamic padding. Under mpirun/srun the ranks share "
          "the\n"
          "shards; re-running skips complete shards.\n",
          args, config, runtime))
    return 0;
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
