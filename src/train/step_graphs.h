#pragma once
// Training steps replayed as CUDA graphs (runtime.cuda_graphs). A distillation step of a 6-layer
// student on 32 GLUE sentences launches ~1,500 small kernels, and on an H200 the GPU mostly waits
// for the CPU to launch them (BENCHMARKS.md, "On a GPU"). A CUDA graph records a whole step
// once (forward, backward, clipping and the fused AdamW) and replays it with one launch.
//
// A graph replays fixed shapes and addresses, so each step's batch is padded to a bucket length
// (the next multiple of kGraphLengthQuantum tokens; padding is masked: the same losses and
// gradients up to float rounding, data::copy_padded) and copied into that bucket's fixed input
// tensors; the learning rate is a device tensor refilled before each replay. A bucket is keyed
// by padded length, batch size and the step's examples over every rank: the body divides the
// gradients by that count as a host constant, and with several ranks an epoch's last, smaller
// global batch can give a rank as many examples as a full one (shares differ by at most one).
// Per bucket: the first kWarmupSteps steps run eagerly on the graph stream (lazy
// initialisation: cuBLAS workspaces, the optimizer's device step counters), the next is captured
// and then replayed, every later one only replayed. All graphs share one memory pool. Dropout is
// seeded as in an eager step: replay takes the generator's seed and offset as they are after the
// step's manual_seed, so a run, resumed or not, draws the same masks as the same bucket's eager
// warm-up would (not an unpadded eager step's: masks are drawn over the padded shape).
//
// With several ranks (or an explicit NCCL backend on one) the gradients are summed between
// backward and the update, outside any graph (collectives and their host-side checks stay
// eager): a step is then two graphs, forward() per bucket (zero the gradients, forward,
// backward) and one update() (clipping, AdamW), with the reducer's sum between them. Its
// gradients are allocated once, before any capture, and kept (FusedAdamW::keep_gradients), so
// that every bucket's backward accumulates into, and the update reads, the same memory.
//
// Only where nothing in a step needs the host: float32 or bfloat16 (float16's overflow check
// decides on the host whether a step is taken), one micro-batch per step. StepRunner decides
// (step.h) and otherwise runs steps eagerly.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "data/batching.h"

namespace pkd::train {

inline constexpr std::int64_t kGraphLengthQuantum = 16;
inline constexpr int kWarmupSteps = 2;

// The padded length of a batch of `length` tokens: the next multiple of kGraphLengthQuantum, but
// at most `limit` (the model's position embeddings) when `length` fits in it.
std::int64_t graph_length(std::int64_t length, std::int64_t limit);

// Whether this build can capture CUDA graphs ("" when it can, else why not).
std::string cuda_graphs_unavailable();

class StepGraphs {
 public:
  // The step itself on fixed device inputs: zeroes and returns its loss sums (a device tensor),
  // runs forward and backward, clips and steps the optimizer at learning rate `lr` (0-dim
  // float32 on the device). Nothing in it may wait for the GPU or read device values on the
  // host.
  using Body = std::function<torch::Tensor(const data::Batch& inputs, const torch::Tensor& lr)>;

  // `max_length`: the model's max_position_embeddings (no bucket is longer).
  StepGraphs(torch::Device device, std::int64_t max_length);
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  struct Result {
    torch::Tensor sums;  // the step's loss sums (a copy, on the current stream)
    bool replayed_only;  // the body did not run on the host (the optimizer counts the step)
  };
  // One step on `batch` (CPU, page-locked) of a step of `global_examples` over every rank, at
  // learning rate `lr`, after the caller seeded dropout. Waits for the work queued before it; the
  // work queued after it waits for the step.
  Result run(const data::Batch& batch, std::int64_t global_examples, double lr, const Body& body);

  // Split steps (see above). The first half on fixed device inputs: zeroes the gradients and
  // returns its loss sums, runs forward and backward; nothing in it may read device values on
  // the host. Returns a copy of the sums, ordered like run().
  using Forward = std::function<torch::Tensor(const data::Batch& inputs)>;
  torch::Tensor forward(const data::Batch& batch, std::int64_t global_examples,
                        const Forward& body);
  // The second half: clips and steps the optimizer at learning rate `lr` (a 0-dim float32 device
  // tensor). One graph for every bucket. Returns whether only the replay ran (the optimizer
  // counts the step), ordered like run().
  using Update = std::function<void(const torch::Tensor& lr)>;
  bool update(double lr, const Update& body);

  std::int64_t captured() const;  // graphs captured so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pkd::train
