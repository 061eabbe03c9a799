#pragma once
// [runtime]: where and how models run — device, precision and threads per rank. Owned by the
// model layer; every command that runs a model reads it.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "shards/verify.h"

namespace pkd::model {

// The most LibTorch intra-op threads one rank may ask for (runtime.cpp says why).
constexpr std::int64_t kMaxIntraOpThreads = 1024;

struct RuntimeConfig {
  std::string device = "cpu";         // "cpu", "cuda" (GPU = local rank) or "cuda:N"
  std::string precision = "auto";     // auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16,
                                      // float16 (CUDA only, with dynamic loss scaling in training)
  std::int64_t intra_op_threads = 0;  // LibTorch threads per rank; 0 = cores / ranks on this node
  std::string verify = "full";        // shards checked before use: full | metadata
  bool cuda_graphs = false;           // training steps replayed as CUDA graphs (step_graphs.h)

  template <class V>
  void visit(V& v) {
    v.field("device", device, "cpu, cuda or cuda:N");
    v.field("precision", precision,
            "auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16 (autocast) or float16 "
            "(autocast + dynamic loss scaling, CUDA only)");
    v.field("intra_op_threads", intra_op_threads,
            "LibTorch threads per rank, 0..1024 (0 = cores / ranks per node)");
    v.field("verify", verify,
            "shards read checked against their manifests: full (sha256 of every file before "
            "HDF5 reads it, then every header field) or metadata (header fields only; "
            "docs/reliability.md)");
    v.field("cuda_graphs", cuda_graphs,
            "replay each training step as a CUDA graph, one per padded length (a multiple of "
            "16 tokens); with several ranks two graphs around the gradient sum. CUDA, float32 "
            "or bfloat16, no gradient accumulation; otherwise steps run eagerly with a notice "
            "(one rank: 7.3x the seed loop on an H200 against 1.3-1.5x eager: docs/cluster.md)");
  }
  // runtime.verify, parsed (a UsageError naming the key when unknown).
  shards::Verification verification() const;
  // Checks names and availability (e.g. cuda asked for but this LibTorch has no CUDA).
  void validate() const;
};

enum class Precision { kFloat32, kBFloat16, kFloat16 };

// Makes `device` the calling thread's current CUDA device (the CUDA runtime keeps one per host
// thread, GPU 0 until set): what has no device of its own (pinned host buffers and the context
// they need, streams, synchronize()) then stays on the rank's GPU. A no-op for the CPU.
void make_current(torch::Device device);

// The validated runtime of this process: applies the thread count once and hands out the device,
// the resolved precision and an autocast scope. Every model forward of training, evaluation and
// caching runs inside Runtime::Autocast: this is the one place precision is decided.
class Runtime {
 public:
  // `ranks_on_node` divides the cores between the ranks of one node (default threads).
  Runtime(const RuntimeConfig& config, int ranks_on_node);

  torch::Device device() const { return device_; }
  int threads() const { return threads_; }
  Precision precision() const { return precision_; }
  const char* precision_name() const;
  const RuntimeConfig& config() const { return config_; }

  // Enables autocast on the runtime's device type to its precision while alive (no-op for
  // float32); restores the previous autocast state on destruction (scopes nest).
  class Autocast {
   public:
    explicit Autocast(const Runtime& runtime);
    ~Autocast();
    Autocast(const Autocast&) = delete;
    Autocast& operator=(const Autocast&) = delete;

   private:
    bool active_ = false, was_enabled_ = false;
    bool cuda_ = false;
    at::ScalarType previous_type_ = at::kFloat;
  };

 private:
  RuntimeConfig config_;
  torch::Device device_{torch::kCPU};
  Precision precision_ = Precision::kFloat32;
  int threads_ = 1;
};

}  // namespace pkd::model
