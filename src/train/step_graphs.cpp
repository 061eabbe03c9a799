// CUDA graphs of training steps (see step_graphs.h). The capture code is built only against a
// CUDA LibTorch (PKD_WITH_CUDA); without one, CI still compiles it against Debian's LibTorch
// headers and the CUDA toolkit's (PKD_CUDA_COMPILE_CHECK, src/train/CMakeLists.txt), where it
// cannot link or run.
#include "train/step_graphs.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "model/torch_version.h"

#if PKD_WITH_CUDA || PKD_CUDA_COMPILE_CHECK
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace pkd::train {

std::int64_t graph_length(std::int64_t length, std::int64_t limit) {
  const std::int64_t rounded =
      (length + kGraphLengthQuantum - 1) / kGraphLengthQuantum * kGraphLengthQuantum;
  return length <= limit ? std::min(rounded, limit) : rounded;
}

#if PKD_WITH_CUDA || PKD_CUDA_COMPILE_CHECK

std::string cuda_graphs_unavailable() {
  // The step's learning rate must be a device tensor: LibTorch 2's fused AdamW (optimizer.h).
  return PKD_TORCH_AT_LEAST(2, 1) ? "" : "this LibTorch is older than 2.1";
}

namespace {

// One body run eagerly kWarmupSteps times, then captured, then only replayed.
struct Graphed {
  int eager_steps = 0;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
};

// One bucket: its fixed inputs, its learning rate (whole steps only), its graph and loss sums
// (written by each replay, allocated in the graphs' pool once captured).
struct Bucket {
  data::Batch inputs;
  torch::Tensor lr;
  Graphed step;
  torch::Tensor sums;
};

// Autocast caches weight casts between ops of a forward; a cast cached during a capture would
// outlive the capture's memory (PyTorch's rule: autocast(cache_enabled=False) with graphs).
class NoAutocastCache {
 public:
  NoAutocastCache() : was_(at::autocast::is_autocast_cache_enabled()) {
    at::autocast::set_autocast_cache_enabled(false);
  }
  ~NoAutocastCache() { at::autocast::set_autocast_cache_enabled(was_); }

 private:
  bool was_;
};

}  // namespace

struct StepGraphs::Impl {
  Impl(torch::Device d, std::int64_t max)
      : device(d),
        max_length(max),
        stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, d.index())),
        pool(at::cuda::graph_pool_handle()) {}
  torch::Device device;
  std::int64_t max_length;
  c10::cuda::CUDAStream stream;  // captures need a stream other than the default one
  decltype(at::cuda::graph_pool_handle()) pool;
  // By (padded length, batch size, the step's examples over every rank).
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, Bucket> buckets;
  Graphed update;  // split steps' second half
  torch::Tensor update_lr;
  std::int64_t captured = 0;
  at::cuda::CUDAEvent queued, done;  // the step after the caller's work, the caller's after it

  // The bucket of `batch` in a step of `global_examples`, holding a padded copy of it.
  Bucket& bucket(const data::Batch& batch, std::int64_t global_examples) {
    const std::int64_t length = graph_length(batch.input_ids.size(1), max_length);
    Bucket& b = buckets[{length, batch.input_ids.size(0), global_examples}];
    if (!b.inputs.input_ids.defined()) b.inputs = data::padded_like(batch, length, device);
    data::copy_padded(batch, b.inputs);
    return b;
  }

  // The graph stream starts after the work the caller queued; returns the caller's stream, for
  // leave() to make the caller's later work wait for the graph stream's.
  c10::cuda::CUDAStream enter() {
    const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device.index());
    queued.record(caller);
    queued.block(stream);
    return caller;
  }
  void leave(const c10::cuda::CUDAStream& caller) {
    done.record(stream);
    done.block(caller);
  }

  // Runs `body` eagerly, or captures it, or replays its graph (on the graph stream, current).
  // Returns whether only the replay ran.
  bool run(Graphed& g, const std::function<void()>& body,
           const std::function<std::string()>& what) {
    if (g.eager_steps < kWarmupSteps) {
      ++g.eager_steps;
      body();
      return false;
    }
    const bool replayed_only = g.graph != nullptr;
    if (!g.graph) {
      // Capture records kernels without running them: this step runs by the replay below. The
      // dropout generator's offset is not advanced by the capture, so the replay draws this
      // step's masks.
      stream.synchronize();
      g.graph = std::make_unique<at::cuda::CUDAGraph>();
      NoAutocastCache no_cache;
#if PKD_TORCH_AT_LEAST(2, 1)
      // Thread-local: the loader thread may pin host memory meanwhile (step_batches.h).
      g.graph->capture_begin(pool, cudaStreamCaptureModeThreadLocal);
#else
      g.graph->capture_begin(pool);
#endif
      try {
        body();
        g.graph->capture_end();
      } catch (const std::exception& e) {
        // An operation that cannot be captured (one that waits for the GPU or reads a device
        // value on the host): say which capture and how to go on, rather than torch's message
        // alone. The job ends here; the capture is ended first so that the stream is usable.
        const std::string cause = e.what();
        try {
          g.graph->capture_end();
        } catch (const std::exception&) {  // an invalidated capture: nothing more to end
        }
        fail("runtime.cuda_graphs: capturing ", what(), " failed: ", cause.substr(0, 2000),
             " (run with runtime.cuda_graphs = false to train with eager steps)");
      }
      ++captured;
      log_info("runtime.cuda_graphs: captured ", what(), " (", captured, " graphs)");
    }
    g.graph->replay();
    return replayed_only;
  }
};

StepGraphs::StepGraphs(torch::Device device, std::int64_t max_length)
    : impl_(std::make_unique<Impl>(device, max_length)) {
  if (!device.is_cuda()) fail("internal: CUDA graphs on ", device.str());
}

StepGraphs::~StepGraphs() = default;

std::int64_t StepGraphs::captured() const {
  return impl_->captured;
}

namespace {

std::string batches_of(const Bucket& b) {
  return std::to_string(b.inputs.input_ids.size(0)) + " x " +
         std::to_string(b.inputs.input_ids.size(1)) + " tokens";
}

}  // namespace

StepGraphs::Result StepGraphs::run(const data::Batch& batch, std::int64_t global_examples,
                                   double lr, const Body& body) {
  Impl& g = *impl_;
  const c10::cuda::CUDAStream caller = g.enter();
  Result result{};
  {
    c10::cuda::CUDAStreamGuard on_graph_stream(g.stream);
    Bucket& b = g.bucket(batch, global_examples);
    if (!b.lr.defined())
      b.lr = torch::empty({}, torch::TensorOptions(torch::kFloat).device(g.device));
    b.lr.fill_(lr);
    result.replayed_only = g.run(
        b.step, [&] { b.sums = body(b.inputs, b.lr); },
        [&] { return "the step for batches of " + batches_of(b); });
    result.sums = b.sums;
  }
  g.leave(caller);
  // Copied on the caller's stream, after the step: the next replay overwrites b.sums.
  result.sums = result.sums.clone();
  return result;
}

torch::Tensor StepGraphs::forward(const data::Batch& batch, std::int64_t global_examples,
                                  const Forward& body) {
  Impl& g = *impl_;
  const c10::cuda::CUDAStream caller = g.enter();
  torch::Tensor sums;
  {
    c10::cuda::CUDAStreamGuard on_graph_stream(g.stream);
    Bucket& b = g.bucket(batch, global_examples);
    g.run(
        b.step, [&] { b.sums = body(b.inputs); },
        [&] { return "forward and backward for batches of " + batches_of(b); });
    sums = b.sums;
  }
  g.leave(caller);
  return sums.clone();
}

bool StepGraphs::update(double lr, const Update& body) {
  Impl& g = *impl_;
  const c10::cuda::CUDAStream caller = g.enter();
  bool replayed_only = false;
  {
    c10::cuda::CUDAStreamGuard on_graph_stream(g.stream);
    if (!g.update_lr.defined())
      g.update_lr = torch::empty({}, torch::TensorOptions(torch::kFloat).device(g.device));
    g.update_lr.fill_(lr);
    replayed_only = g.run(
        g.update, [&] { body(g.update_lr); },
        [] { return std::string("the update (clipping, AdamW)"); });
  }
  g.leave(caller);
  return replayed_only;
}

#else  // no CUDA LibTorch

std::string cuda_graphs_unavailable() {
  return "this pkd was built against a LibTorch without CUDA";
}

struct StepGraphs::Impl {};

StepGraphs::StepGraphs(torch::Device device, std::int64_t) {
  fail("internal: CUDA graphs on ", device.str(), ": ", cuda_graphs_unavailable());
}

StepGraphs::~StepGraphs() = default;

std::int64_t StepGraphs::captured() const {
  return 0;
}

StepGraphs::Result StepGraphs::run(const data::Batch&, std::int64_t, double, const Body&) {
  fail("internal: ", cuda_graphs_unavailable());
}

torch::Tensor StepGraphs::forward(const data::Batch&, std::int64_t, const Forward&) {
  fail("internal: ", cuda_graphs_unavailable());
}

bool StepGraphs::update(double, const Update&) {
  fail("internal: ", cuda_graphs_unavailable());
}

#endif

}  // namespace pkd::train
