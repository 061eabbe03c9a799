#include "model/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
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

namespace pkd::model {

int local_rank_count() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  return 1;
}

int local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n >= 0) return n;
    }
  return 0;
}

void RuntimeConfig::validate() const {
  if (precision != "float32" && precision != "bfloat16" && precision != "float16")
    usage_fail("runtime.precision must be float32, bfloat16 or float16, got \"", precision, "\"");
  if (intra_op_threads < 0)
    usage_fail("runtime.intra_op_threads must be >= 0, got ", intra_op_threads);
  const bool cuda = device == "cuda" || starts_with(device, "cuda:");
  if (!cuda && device != "cpu")
    usage_fail("runtime.device must be cpu, cuda or cuda:N, got \"", device, "\"");
  if (cuda && !torch::cuda::is_available())
    usage_fail("runtime.device = \"", device, "\" but this LibTorch has no CUDA or sees no GPU (",
               torch::cuda::device_count(),
               " devices); use a CUDA build of LibTorch or device = \"cpu\"");
  if (!cuda && precision == "float16")
    usage_fail("runtime.precision = \"float16\" needs a GPU; on CPU use float32 or bfloat16");
}

Runtime::Runtime(const RuntimeConfig& config, int ranks_on_node) : config_(config) {
  config_.validate();
  device_ = torch::Device(config_.device);
  if (device_.is_cuda() && !device_.has_index()) {
    // "cuda" means one GPU per rank: the node's ranks take its GPUs in local-rank order.
    const int gpus = static_cast<int>(torch::cuda::device_count());
    device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank() % gpus));
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads_ = config_.intra_op_threads > 0 ? static_cast<int>(config_.intra_op_threads)
                                          : std::max(1, cores / std::max(1, ranks_on_node));
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
  log_debug("runtime: device ", config_.device, ", precision ", config_.precision, ", ", threads_,
            " intra-op threads");
}

Runtime::Autocast::Autocast(const Runtime& runtime) {
  const std::string& p = runtime.config().precision;
  if (p == "float32") return;
  const at::ScalarType type = p == "bfloat16" ? at::kBFloat16 : at::kHalf;
  if (runtime.device().is_cuda()) {
    at::autocast::set_autocast_gpu_dtype(type);
    at::autocast::set_enabled(true);
    cuda_ = true;
  } else {
    at::autocast::set_autocast_cpu_dtype(type);
    at::autocast::set_cpu_enabled(true);
    cpu_ = true;
  }
}

Runtime::Autocast::~Autocast() {
  if (cuda_) at::autocast::set_enabled(false);
  if (cpu_) at::autocast::set_cpu_enabled(false);
  if (cuda_ || cpu_) at::autocast::clear_cache();
}

}  // namespace pkd::model
