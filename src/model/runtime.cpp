#include "model/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/error.h"
#include "core/log.h"
#include "model/torch_version.h"
#include "mpi/comm.h"

namespace pkd::model {

shards::Verification RuntimeConfig::verification() const {
  return shards::parse_verification(verify, "runtime.verify");
}

void RuntimeConfig::validate() const {
  verification();
  if (precision != "auto" && precision != "float32" && precision != "bfloat16" &&
      precision != "float16")
    usage_fail("runtime.precision must be auto, float32, bfloat16 or float16, got \"", precision,
               "\"");
  // A hard cap, not a warning: LibTorch's OpenMP pool starts every thread asked for on each
  // rank, and 100000 of them take minutes to start and oversubscribe the node until the job
  // seems hung. The largest nodes have a few hundred hardware threads; more than 1024 per rank
  // is a typo. Up to the cap, more threads than cores is allowed (Runtime warns).
  if (intra_op_threads < 0 || intra_op_threads > kMaxIntraOpThreads)
    usage_fail("runtime.intra_op_threads must be in 0..", kMaxIntraOpThreads,
               " (0 = the node's cores / ranks on the node), got ", intra_op_threads);
  const bool cuda = device == "cuda" || starts_with(device, "cuda:");
  if (!cuda && device != "cpu")
    usage_fail("runtime.device must be cpu, cuda or cuda:N, got \"", device, "\"");
  if (cuda && !torch::cuda::is_available())
    usage_fail("runtime.device = \"", device, "\" but this LibTorch has no CUDA or sees no GPU (",
               torch::cuda::device_count(),
               " devices); use a CUDA build of LibTorch or device = \"cpu\"");
  if (!cuda && precision == "float16")
    usage_fail("runtime.precision = \"float16\" needs a GPU; on CPU use float32 or bfloat16");
  if (!cuda && cuda_graphs)
    usage_fail("runtime.cuda_graphs = true needs runtime.device = \"cuda\" (got \"", device, "\")");
}

// Through c10's device guard interface, which a CPU LibTorch has too (a CUDA device reaches here
// only from a CUDA LibTorch: RuntimeConfig::validate refuses it otherwise).
void make_current(torch::Device device) {
  if (device.is_cuda()) c10::impl::getDeviceGuardImpl(c10::kCUDA)->setDevice(device);
}

Runtime::Runtime(const RuntimeConfig& config, int ranks_on_node) : config_(config) {
  config_.validate();
  device_ = torch::Device(config_.device);
  if (device_.is_cuda() && !device_.has_index()) {
    // "cuda" means one GPU per rank: the node's ranks take its GPUs in local-rank order.
    const int gpus = static_cast<int>(torch::cuda::device_count());
    device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(mpi::local_rank() % gpus));
  }
  // Tensor operations guard their own device; the rest would land on GPU 0 of a multi-GPU node.
  make_current(device_);
  if (config_.precision == "bfloat16" || (config_.precision == "auto" && device_.is_cuda()))
    precision_ = Precision::kBFloat16;
  else if (config_.precision == "float16")
    precision_ = Precision::kFloat16;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads_ = config_.intra_op_threads > 0 ? static_cast<int>(config_.intra_op_threads)
                                          : std::max(1, cores / std::max(1, ranks_on_node));
  if (threads_ > cores)
    log_warn("runtime.intra_op_threads = ", threads_, " is more than this node's ", cores,
             " hardware threads: the threads will compete for cores (slower, not wrong)");
  // LibTorch picks 1 thread on some machines (cpuinfo sees 1 core): always set it explicitly.
  at::set_num_threads(threads_);
#if defined(__GLIBC__)
  // LibTorch's CPU allocator is plain malloc. glibc serves blocks above 32 MB (a BERT word
  // embedding's gradient is 94 MB) with fresh mmaps and unmaps them on free, so every training
  // step page-faulted and zero-filled them again: ~30% of a step of a 6-layer student. Keep
  // large blocks in the heap for reuse instead (measured in BENCHMARKS.md, distillation).
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
#endif
  log_debug("runtime: device ", device_, ", precision ", precision_name(), ", ", threads_,
            " intra-op threads");
}

const char* Runtime::precision_name() const {
  switch (precision_) {
    case Precision::kFloat32:
      return "float32";
    case Precision::kBFloat16:
      return "bfloat16";
    case Precision::kFloat16:
      return "float16";
  }
  return "?";
}

namespace {

// LibTorch 2.4 replaced the per-device autocast setters (which now log a deprecation warning on
// every call) with ones taking the device type; 1.13 has only the old ones.
#if PKD_TORCH_AT_LEAST(2, 4)
bool autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast(bool cuda, bool enabled) {
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
}
at::ScalarType autocast_type(bool cuda) {
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast_type(bool cuda, at::ScalarType type) {
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, type);
}
#else
bool autocast_enabled(bool cuda) {
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast(bool cuda, bool enabled) {
  if (cuda)
    at::autocast::set_enabled(enabled);
  else
    at::autocast::set_cpu_enabled(enabled);
}
at::ScalarType autocast_type(bool cuda) {
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_type(bool cuda, at::ScalarType type) {
  if (cuda)
    at::autocast::set_autocast_gpu_dtype(type);
  else
    at::autocast::set_autocast_cpu_dtype(type);
}
#endif

}  // namespace

Runtime::Autocast::Autocast(const Runtime& runtime) {
  if (runtime.precision() == Precision::kFloat32) return;
  cuda_ = runtime.device().is_cuda();
  active_ = true;
  was_enabled_ = autocast_enabled(cuda_);
  previous_type_ = autocast_type(cuda_);
  set_autocast_type(cuda_, runtime.precision() == Precision::kBFloat16 ? at::kBFloat16 : at::kHalf);
  set_autocast(cuda_, true);
  at::autocast::increment_nesting();
}

Runtime::Autocast::~Autocast() {
  if (!active_) return;
  set_autocast(cuda_, was_enabled_);
  set_autocast_type(cuda_, previous_type_);
  // Casts of weights are cached while autocast is on; drop them when the outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace pkd::model
