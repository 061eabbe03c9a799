// The reducer's shared part (buckets, host staging, backend choice) and the MPI backend.
#include "parallel/gradient_reducer.h"

#include "core/error.h"
#include "core/log.h"
#include "parallel/reducers.h"

namespace pkd::parallel {
namespace {

class MpiReducer : public GradientReducer {
 public:
  MpiReducer(mpi::Comm& comm, double bucket_mb)
      : GradientReducer(comm, bucket_mb, /*device_native=*/false, /*runs_alone=*/false) {}
  Backend backend() const override { return Backend::kMpi; }

 protected:
  void sum_flat(torch::Tensor& flat) override {
    comm_.allreduce_sum(flat.data_ptr<float>(), flat.numel());
  }
  // mpi::Comm has no float broadcast: zero the non-root copies and sum (exact: x + 0 + ... = x).
  void broadcast_flat(torch::Tensor& flat) override {
    if (!comm_.is_root()) flat.zero_();
    sum_flat(flat);
  }
};

}  // namespace

std::unique_ptr<GradientReducer> make_mpi_reducer(const ReduceConfig& config, mpi::Comm& comm) {
  return std::make_unique<MpiReducer>(comm, config.bucket_mb);
}

std::string backend_name(Backend b) {
  switch (b) {
    case Backend::kAuto:
      return "auto";
    case Backend::kGloo:
      return "gloo";
    case Backend::kMpi:
      return "mpi";
    case Backend::kNccl:
      return "nccl";
  }
  return "?";
}

std::string built_backends() {
  std::string names = "mpi";
  if (PKD_WITH_GLOO) names += ", gloo";
  if (PKD_WITH_NCCL) names += ", nccl";
  return names;
}

Backend ReduceConfig::kind() const {
  for (Backend b : {Backend::kAuto, Backend::kGloo, Backend::kMpi, Backend::kNccl})
    if (backend == backend_name(b)) return b;
  usage_fail("parallel.backend must be auto, nccl, gloo or mpi, got \"", backend, "\"");
}

void ReduceConfig::validate() const {
  const Backend b = kind();
  if ((b == Backend::kGloo && !PKD_WITH_GLOO) || (b == Backend::kNccl && !PKD_WITH_NCCL))
    usage_fail("parallel.backend = \"", backend, "\" but this build of pkd has no ", backend,
               " reducer (it has: ", built_backends(), ")");
  if (bucket_mb <= 0) usage_fail("parallel.bucket_mb must be positive, got ", bucket_mb);
  if (timeout_s <= 0) usage_fail("parallel.timeout_s must be positive, got ", timeout_s);
  if (rendezvous_timeout_s <= 0)
    usage_fail("parallel.rendezvous_timeout_s must be positive, got ", rendezvous_timeout_s);
}

std::unique_ptr<GradientReducer> GradientReducer::create(const ReduceConfig& config,
                                                         mpi::Comm& comm, torch::Device device) {
  std::unique_ptr<GradientReducer> reducer = create_backend(config, comm, device);
  reducer->overlap_ = config.overlap;
  return reducer;
}

std::unique_ptr<GradientReducer> GradientReducer::create_backend(const ReduceConfig& config,
                                                                 mpi::Comm& comm,
                                                                 torch::Device device) {
  config.validate();
  Backend b = config.kind();
  if (b == Backend::kAuto) {
    // One rank needs no collectives: the MPI reducer, which then does nothing.
    if (comm.size() == 1) return make_mpi_reducer(config, comm);
    b = device.is_cuda() && PKD_WITH_NCCL ? Backend::kNccl
        : PKD_WITH_GLOO                   ? Backend::kGloo
                                          : Backend::kMpi;
  }
  if (b == Backend::kNccl && !device.is_cuda())
    usage_fail("parallel.backend = \"nccl\" reduces GPU tensors, but the model runs on ", device,
               ": set runtime.device = \"cuda\", or parallel.backend = \"auto\"");
  if (device.is_cuda() && b != Backend::kNccl && comm.size() > 1 && comm.is_root())
    log_info("parallel.backend = ", backend_name(b),
             " with GPU tensors: gradients are staged through pinned host memory (correct, slower "
             "than nccl)");
  switch (b) {
#if PKD_WITH_NCCL
    case Backend::kNccl:
      return make_nccl_reducer(config, comm, device);
#endif
#if PKD_WITH_GLOO
    case Backend::kGloo:
      if (comm.size() > 1) return make_gloo_reducer(config, comm);
      break;
#endif
    default:
      break;
  }
  return make_mpi_reducer(config, comm);
}

template <class Op>
void GradientReducer::on_backend_memory(torch::Tensor& flat, Op op) {
  if (device_native_ || flat.device().is_cpu()) {
    op(flat);
    return;
  }
  if (!staging_.defined() || staging_.numel() < flat.numel())
    staging_ = torch::empty({flat.numel()},
                            torch::TensorOptions().dtype(torch::kFloat).pinned_memory(true));
  torch::Tensor host = staging_.narrow(0, 0, flat.numel());
  host.copy_(flat);  // blocking: the reduction below reads it on the CPU
  op(host);
  flat.copy_(host);
}

void GradientReducer::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (idle()) return;
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    if (t.scalar_type() != torch::kFloat || !t.is_contiguous())
      fail("broadcast: a tensor is not contiguous float32");
    torch::Tensor flat = t.view({-1});
    on_backend_memory(flat, [this](torch::Tensor& f) { broadcast_flat(f); });
  }
  finish();
}

void GradientReducer::reduce(const std::vector<torch::Tensor>& tensors, double scale) {
  if (idle() || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  const torch::Device device = tensors[0].device();
  if (device_native_ && !device.is_cuda())
    fail("all-reduce: the ", backend_name(backend()), " backend reduces GPU tensors, got ", device);
  std::size_t i = 0;
  while (i < tensors.size()) {
    // One bucket: consecutive tensors up to bucket_bytes_ (at least one tensor).
    std::size_t j = i;
    double bytes = 0;
    std::vector<torch::Tensor> views;
    while (j < tensors.size() &&
           (views.empty() || bytes + tensors[j].numel() * 4.0 <= bucket_bytes_)) {
      const auto& t = tensors[j];
      if (t.scalar_type() != torch::kFloat || !t.is_contiguous() || t.device() != device)
        fail("all-reduce: tensor ", j, " is not a contiguous float32 tensor on ", device);
      views.push_back(t.view({-1}));
      bytes += static_cast<double>(t.numel()) * 4.0;
      ++j;
    }
    torch::Tensor flat = views.size() == 1 ? views[0] : torch::cat(views);
    on_backend_memory(flat, [this](torch::Tensor& f) { sum_flat(f); });
    if (scale != 1.0) flat.mul_(scale);
    if (views.size() > 1) {
      std::int64_t offset = 0;
      for (auto& v : views) {
        v.copy_(flat.narrow(0, offset, v.numel()));
        offset += v.numel();
      }
    }
    i = j;
  }
  finish();
}

}  // namespace pkd::parallel
