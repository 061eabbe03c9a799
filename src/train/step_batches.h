#pragma once
// This rank's micro-batches of each optimizer step, made ahead by a background thread: while the
// trainer's thread runs step n (on a GPU: while it queues step n's kernels), the loader thread
// collates step n+1's batches and, for a GPU, copies them into page-locked memory; once the
// queue is full it reads the next streaming window's shards, so that a new window (of a split
// larger than window_examples) stalls training for less than its reading time. On a GPU the
// batch phase otherwise adds its whole time to every step
// (BENCHMARKS.md, "On a GPU"). The batches, and so the training, are the same as when they are
// made in the trainer's thread: only when they are made changes.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/sampler.h"
#include "data/stream.h"

namespace pkd::train {

// An optimizer step's place in the run.
struct StepPosition {
  std::int64_t epoch = 0;
  std::int64_t step_in_epoch = 0;
  bool operator==(const StepPosition& o) const {
    return epoch == o.epoch && step_in_epoch == o.step_in_epoch;
  }
};

// The inputs of one optimizer step on this rank.
struct StepInput {
  StepPosition at;
  std::int64_t global_examples = 0;               // over every rank and micro-batch
  std::vector<std::optional<data::Batch>> micro;  // nothing: no examples of this rank
  std::exception_ptr error;                       // making them failed (rethrown by take)
};

class StepBatches {
 public:
  struct Options {
    std::size_t micro_batches = 1;  // per optimizer step (gradient accumulation)
    int rank = 0, ranks = 1;
    // A GPU: batches in page-locked CPU memory, for non-blocking copies to it, and the loader
    // thread's current device (else pinning would set up a context on GPU 0). CPU: not pinned.
    torch::Device pin_for = torch::kCPU;
    std::int64_t ahead = 1;  // steps made ahead by the loader thread (0: no thread)
  };
  // The sampler is copied: the loader thread uses its own (the sampler caches an epoch's plan and
  // is not thread-safe).
  StepBatches(const data::DistributedBatchSampler& sampler, const data::SplitIndex& index,
              data::FeatureRequest features, Options options);
  ~StepBatches();
  StepBatches(const StepBatches&) = delete;
  StepBatches& operator=(const StepBatches&) = delete;

  // Makes the `steps` optimizer steps from `from` on (in the trainer's order: the steps of an
  // epoch, then the next epoch's from step 0).
  void start(StepPosition from, std::int64_t steps);
  // The inputs of the step at `at`, which must be the next one; rethrows the loader's error
  // (a damaged shard) in the trainer's thread.
  StepInput take(StepPosition at);

  // While one lives, the loader thread reads no file: Debian's HDF5 is built without thread
  // safety, and an evaluation reads its dev split through HDF5 too.
  class Pause {
   public:
    explicit Pause(StepBatches& b);
    ~Pause();
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    StepBatches& b_;
  };

 private:
  StepInput make(StepPosition at);
  StepPosition after(StepPosition p) const;
  void run();

  data::DistributedBatchSampler sampler_;
  data::WindowLoader loader_;
  Options options_;
  StepPosition next_;  // the next position to make
  // The position whose window the loader thread last read ahead (only the loader thread uses
  // it; a read that failed is not retried until the step is made).
  StepPosition window_read_for_{-1, -1};
  std::int64_t left_ = 0;  // steps still to make
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<StepInput> ready_;
  int pauses_ = 0;
  bool busy_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace pkd::train
