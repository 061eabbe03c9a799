// The NCCL backend: NCCL's C API on CUDA tensors, one GPU per rank, without LibTorch's c10d
// (ProcessGroupNCCL exists only in CUDA LibTorch builds and changed between 1.13 and 2.x).
// Rank 0 creates the communicator's unique id and broadcasts it over MPI; every rank then joins
// a non-blocking communicator, so that creating it, and every collective, can be waited for with
// a timeout: a rank that died or hung brings the job down with a message (ncclCommAbort, then an
// error), never a hang. Collectives run in place on LibTorch's current stream of the device;
// with parallel.overlap, those started during backward (start_sum) on a stream of their own,
// which the current stream waits for (on the GPU, not the host) before it reads the sums.
// Compiled wherever nccl.h and the CUDA runtime are found (PKD_WITH_NCCL), also against a CPU
// LibTorch (CI), where it refuses to run for want of a GPU.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#if PKD_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#include "core/error.h"
#include "core/log.h"
#include "parallel/nccl_id.h"
#include "parallel/reducers.h"

#define PKD_CUDA_CHECK(call)                                                                    \
  do {                                                                                          \
    cudaError_t pkd_cuda_rc_ = (call);                                                          \
    if (pkd_cuda_rc_ != cudaSuccess)                                                            \
      ::pkd::fail("CUDA call ", #call, " failed at ", __FILE__, ":", __LINE__, ": ",            \
                  cudaGetErrorName(pkd_cuda_rc_), " (", cudaGetErrorString(pkd_cuda_rc_), ")"); \
  } while (0)

// ncclInProgress is not an error of a non-blocking communicator: the call is being enqueued.
// `comm` is the address of the communicator variable (nullptr before there is one): a failure
// aborts the communicator and clears the variable, so that nothing aborts it twice.
#define PKD_NCCL_CHECK(comm, call)                                               \
  do {                                                                           \
    ncclResult_t pkd_nccl_rc_ = (call);                                          \
    if (pkd_nccl_rc_ != ncclSuccess && pkd_nccl_rc_ != ncclInProgress)           \
      ::pkd::parallel::nccl_fail(comm, #call, __FILE__, __LINE__, pkd_nccl_rc_); \
  } while (0)

namespace pkd::parallel {

[[noreturn]] void nccl_fail(ncclComm_t* comm, const char* call, const char* file, int line,
                            ncclResult_t rc) {
  const ncclComm_t failed = comm != nullptr ? *comm : nullptr;
  // The last error's text is NCCL's, kept until the next call on the communicator: copy it
  // before the abort frees the communicator.
  const char* last_text = ncclGetLastError(failed);
  const std::string last = last_text != nullptr ? last_text : "";
  if (failed != nullptr) {
    ncclCommAbort(failed);
    *comm = nullptr;
  }
  fail("NCCL call ", call, " failed at ", file, ":", line, ": ", ncclGetErrorString(rc),
       last.empty() ? std::string() : cat(" (", last, ")"));
}

std::string nccl_unique_id(mpi::Comm& comm) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (comm.is_root()) PKD_NCCL_CHECK(nullptr, ncclGetUniqueId(&id));
  return comm.broadcast(std::string(reinterpret_cast<const char*>(&id), sizeof id));
}

namespace {

class NcclReducer : public GradientReducer {
 public:
  NcclReducer(const ReduceConfig& config, mpi::Comm& comm, torch::Device device)
      : GradientReducer(comm, config.bucket_mb, /*device_native=*/true, /*runs_alone=*/true),
        device_(device),
        timeout_(config.timeout_s) {
    check_one_gpu_per_rank();
    const std::string id_bytes = nccl_unique_id(comm);
    ncclUniqueId id;
    std::memcpy(&id, id_bytes.data(), sizeof id);
    PKD_CUDA_CHECK(cudaSetDevice(device_.index()));
    ncclConfig_t nccl_config = NCCL_CONFIG_INITIALIZER;
    nccl_config.blocking = 0;
    PKD_NCCL_CHECK(&nccl_,
                   ncclCommInitRankConfig(&nccl_, comm.size(), id, comm.rank(), &nccl_config));
    settle("creating the communicator");
    PKD_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    int version = 0;
    PKD_NCCL_CHECK(&nccl_, ncclGetVersion(&version));
    log_debug("NCCL ", version, " communicator ready: rank ", comm.rank(), " of ", comm.size(),
              " on ", device_);
  }
  ~NcclReducer() override {
    // Abort, not destroy: after a failure mid-step (this rank's, or an error thrown between a
    // collective and finish()) collectives may still be in flight, and ncclCommDestroy would
    // wait for peers that may be gone. Every failure path that aborted the communicator already
    // cleared nccl_. A destructor must not throw, so these results are not checked (the process
    // is ending or the job failed).
    if (nccl_ != nullptr) ncclCommAbort(nccl_);
    if (done_ != nullptr) cudaEventDestroy(done_);
    if (ready_ != nullptr) cudaEventDestroy(ready_);
    if (summed_ != nullptr) cudaEventDestroy(summed_);
  }
  Backend backend() const override { return Backend::kNccl; }

 protected:
  void sum_flat(torch::Tensor& flat) override {
    check_tensor(flat);
    PKD_NCCL_CHECK(&nccl_, ncclAllReduce(flat.data_ptr(), flat.data_ptr(),
                                         static_cast<std::size_t>(flat.numel()), ncclFloat, ncclSum,
                                         nccl_, stream()));
    settle("enqueuing an all-reduce");
  }
  void broadcast_flat(torch::Tensor& flat) override {
    check_tensor(flat);
    PKD_NCCL_CHECK(&nccl_, ncclBroadcast(flat.data_ptr(), flat.data_ptr(),
                                         static_cast<std::size_t>(flat.numel()), ncclFloat, 0,
                                         nccl_, stream()));
    settle("enqueuing a broadcast");
  }
#if PKD_WITH_CUDA
  // On the side stream: it waits (on the GPU) for what the current stream queued so far, i.e.
  // the copies into `flat`; the current stream waits for the sum in the result's wait(). `flat`
  // lives until the step's sums are read back, so the caching allocator needs no record_stream.
  PendingSum start_sum(torch::Tensor& flat) override {
    check_tensor(flat);
    if (!side_) {
      side_ = c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device_.index());
      PKD_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
      PKD_CUDA_CHECK(cudaEventCreateWithFlags(&summed_, cudaEventDisableTiming));
    }
    PKD_CUDA_CHECK(cudaEventRecord(ready_, stream()));
    PKD_CUDA_CHECK(cudaStreamWaitEvent(side_->stream(), ready_, 0));
    PKD_NCCL_CHECK(&nccl_, ncclAllReduce(flat.data_ptr(), flat.data_ptr(),
                                         static_cast<std::size_t>(flat.numel()), ncclFloat, ncclSum,
                                         nccl_, side_->stream()));
    settle("enqueuing an all-reduce");
    return PendingSum([this] {
      PKD_CUDA_CHECK(cudaEventRecord(summed_, side_->stream()));
      PKD_CUDA_CHECK(cudaStreamWaitEvent(stream(), summed_, 0));
    });
  }
  bool sums_in_background(torch::Device device) const override {
    return device.is_cuda();
  }
#endif
  // Waits for the collectives on the stream, polling NCCL's asynchronous error, up to timeout_s.
  void finish() override {
    PKD_CUDA_CHECK(cudaEventRecord(done_, stream()));
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t q = cudaEventQuery(done_);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) PKD_CUDA_CHECK(q);
      check_async("an all-reduce");
      if (elapsed(start) > timeout_) {
        ncclCommAbort(nccl_);
        nccl_ = nullptr;
        fail("NCCL: the collectives of rank ", comm_.rank(), " did not finish within ", timeout_,
             " s (parallel.timeout_s): another rank died or hangs; communicator aborted");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

 private:
  // NCCL refuses two ranks on one GPU ("Duplicate GPU detected"). Say so before it does, on
  // every rank alike, naming the host and the GPU.
  void check_one_gpu_per_rank() {
    int count = 0;
    const cudaError_t rc = cudaGetDeviceCount(&count);
    const bool no_gpu = rc != cudaSuccess || count == 0 || device_.index() >= count;
    if (comm_.any(no_gpu))
      usage_fail("parallel.backend = \"nccl\" needs one GPU per rank; rank ", comm_.rank(),
                 " sees ", rc == cudaSuccess ? count : 0, " GPUs (",
                 rc == cudaSuccess ? "cuda runtime ok" : cudaGetErrorString(rc), ") and was given ",
                 device_, no_gpu ? "" : " (another rank sees none)");
    char bus[64] = {0};
    PKD_CUDA_CHECK(cudaDeviceGetPCIBusId(bus, sizeof bus, device_.index()));
    const auto all = comm_.gather(mpi::hostname() + " GPU " + bus);
    std::string problem;
    std::set<std::string> seen;
    for (std::size_t r = 0; r < all.size(); ++r)
      if (!seen.insert(all[r]).second)
        problem = cat("parallel.backend = \"nccl\" needs one GPU per rank, but rank ", r,
                      " shares ", all[r],
                      " with another rank (NCCL refuses that). Start at most one rank per GPU "
                      "(",
                      comm_.size(),
                      " ranks here), or set parallel.backend = \"mpi\" (or "
                      "\"gloo\") to stage gradients through host memory");
    problem = comm_.broadcast(problem);
    if (!problem.empty()) usage_fail(problem);
  }
  void check_tensor(const torch::Tensor& flat) const {
    if (flat.device() != device_)
      fail("NCCL reducer of ", device_, " was given a tensor on ", flat.device());
  }
  cudaStream_t stream() const {
#if PKD_WITH_CUDA
    return c10::cuda::getCurrentCUDAStream(device_.index()).stream();
#else
    return cudaStreamLegacy;  // a CPU LibTorch: never reached with tensors (no GPU to hold them)
#endif
  }
  void check_async(const char* what) {
    ncclResult_t state = ncclSuccess;
    PKD_NCCL_CHECK(&nccl_, ncclCommGetAsyncError(nccl_, &state));
    if (state != ncclSuccess && state != ncclInProgress)
      nccl_fail(&nccl_, what, __FILE__, __LINE__, state);
  }
  // A non-blocking communicator returns ncclInProgress while a call is being carried out; wait
  // until it is done (or failed) before the next NCCL call, as NCCL requires.
  void settle(const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      ncclResult_t state = ncclSuccess;
      PKD_NCCL_CHECK(&nccl_, ncclCommGetAsyncError(nccl_, &state));
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) nccl_fail(&nccl_, what, __FILE__, __LINE__, state);
      if (elapsed(start) > timeout_) {
        ncclCommAbort(nccl_);
        nccl_ = nullptr;
        fail("NCCL: ", what, " on rank ", comm_.rank(), " did not complete within ", timeout_,
             " s (parallel.timeout_s): a rank did not join or died; communicator aborted");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  static double elapsed(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  torch::Device device_;
  double timeout_;
  ncclComm_t nccl_ = nullptr;
  cudaEvent_t done_ = nullptr;
  // parallel.overlap: the side stream of start_sum, created at its first use.
#if PKD_WITH_CUDA
  std::optional<c10::cuda::CUDAStream> side_;
#endif
  cudaEvent_t ready_ = nullptr;   // the current stream's work before a sum
  cudaEvent_t summed_ = nullptr;  // the side stream's sums, for the current stream to wait for
};

}  // namespace

std::unique_ptr<GradientReducer> make_nccl_reducer(const ReduceConfig& config, mpi::Comm& comm,
                                                   torch::Device device) {
  if (!device.has_index()) device = torch::Device(torch::kCUDA, 0);
  return std::make_unique<NcclReducer>(config, comm, device);
}

}  // namespace pkd::parallel
