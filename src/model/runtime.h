#pragma once
// [runtime]: where and how models run — device, precision and threads per rank. Owned by the
// model layer; every command that runs a model reads it.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace pkd::model {

struct RuntimeConfig {
  std::string device = "cpu";         // "cpu", "cuda" (GPU = local rank) or "cuda:N"
  std::string precision = "float32";  // float32; bfloat16 (CPU and CUDA autocast); float16 (CUDA)
  std::int64_t intra_op_threads = 0;  // LibTorch threads per rank; 0 = cores / ranks on this node

  template <class V>
  void visit(V& v) {
    v.field("device", device, "cpu, cuda or cuda:N");
    v.field("precision", precision,
            "float32, bfloat16 (autocast) or float16 (autocast, CUDA only)");
    v.field("intra_op_threads", intra_op_threads,
            "LibTorch threads per rank (0 = cores / ranks per node)");
  }
  // Checks names and availability (e.g. cuda asked for but this LibTorch has no CUDA).
  void validate() const;
};

// The validated runtime of this process: applies the thread count once and hands out the device
// and an autocast scope for forward passes.
class Runtime {
 public:
  // `ranks_on_node` divides the cores between the ranks of one node (default threads).
  Runtime(const RuntimeConfig& config, int ranks_on_node);

  torch::Device device() const { return device_; }
  int threads() const { return threads_; }
  const RuntimeConfig& config() const { return config_; }

  // Enables autocast to the configured precision while alive (no-op for float32).
  class Autocast {
   public:
    explicit Autocast(const Runtime& runtime);
    ~Autocast();
    Autocast(const Autocast&) = delete;
    Autocast& operator=(const Autocast&) = delete;

   private:
    bool cpu_ = false, cuda_ = false;
  };

 private:
  RuntimeConfig config_;
  torch::Device device_{torch::kCPU};
  int threads_ = 1;
};

// Ranks of this job on this node, from the launcher's environment (1 when alone).
int local_rank_count();
// This rank's index among them (Open MPI, MPICH/Hydra or srun; 0 when alone).
int local_rank();

}  // namespace pkd::model
