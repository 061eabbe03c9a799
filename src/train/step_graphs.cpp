// CUDA graphs of training steps (see step_graphs.h). The capture code is built only against a
// CUDA LibTorch (PKD_WITH_CUDA); without one, CI still compiles it against Debian's LibTorch
// headers and the CUDA toolkit's (PKD_CUDA_COMPILE_CHECK, src/train/CMakeLists.txt), where it
// cannot link or run.
#include "train/step_graphs.h"

#include <algorithm>

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

// One bucket: its fixed inputs and learning rate, and once captured, its graph and loss sums.
struct Bucket {
  data::Batch inputs;
  torch::Tensor lr;
  int eager_steps = 0;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor sums;  // written by each replay (allocated in the graphs' pool)
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
  // By (padded length, batch size).
  std::map<std::tuple<std::int64_t, std::int64_t>, Bucket> buckets;
  std::int64_t captured = 0;
  at::cuda::CUDAEvent queued, done;  // the step after the caller's work, the caller's after it
};

StepGraphs::StepGraphs(torch::Device device, std::int64_t max_length)
    : impl_(std::make_unique<Impl>(device, max_length)) {
  if (!device.is_cuda()) fail("internal: CUDA graphs on ", device.str());
}

StepGraphs::~StepGraphs() = default;

std::int64_t StepGraphs::captured() const {
  return impl_->captured;
}

StepGraphs::Result StepGraphs::run(const data::Batch& batch, double lr, const Body& body) {
  Impl& g = *impl_;
  const std::int64_t length = graph_length(batch.input_ids.size(1), g.max_length);
  Bucket& b = g.buckets[{length, batch.input_ids.size(0)}];
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(g.device.index());
  g.queued.record(caller);
  g.queued.block(g.stream);  // the graph stream starts after the work queued before this step
  Result result{};
  torch::Tensor sums;
  {
    c10::cuda::CUDAStreamGuard on_graph_stream(g.stream);
    if (!b.inputs.input_ids.defined()) {
      b.inputs = data::padded_like(batch, length, g.device);
      b.lr = torch::empty({}, torch::TensorOptions(torch::kFloat).device(g.device));
    }
    data::copy_padded(batch, b.inputs);
    b.lr.fill_(lr);
    if (b.eager_steps < kWarmupSteps) {
      ++b.eager_steps;
      sums = body(b.inputs, b.lr);
    } else {
      if (!b.graph) {
        // Capture records kernels without running them: this step runs by the replay below.
        // The dropout generator's offset is not advanced by the capture, so the replay draws
        // this step's masks.
        g.stream.synchronize();
        b.graph = std::make_unique<at::cuda::CUDAGraph>();
        NoAutocastCache no_cache;
#if PKD_TORCH_AT_LEAST(2, 1)
        // Thread-local: the loader thread may pin host memory meanwhile (step_batches.h).
        b.graph->capture_begin(g.pool, cudaStreamCaptureModeThreadLocal);
#else
        b.graph->capture_begin(g.pool);
#endif
        b.sums = body(b.inputs, b.lr);
        b.graph->capture_end();
        ++g.captured;
        log_info("runtime.cuda_graphs: captured the step for batches of ", batch.input_ids.size(0),
                 " x ", length, " tokens (", g.captured, " graphs)");
      } else {
        result.replayed_only = true;
      }
      b.graph->replay();
      sums = b.sums;
    }
  }
  g.done.record(g.stream);
  g.done.block(caller);
  // Copied on the caller's stream, after the step: the next replay overwrites b.sums.
  result.sums = sums.clone();
  return result;
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

StepGraphs::Result StepGraphs::run(const data::Batch&, double, const Body&) {
  fail("internal: ", cuda_graphs_unavailable());
}

#endif

}  // namespace pkd::train
