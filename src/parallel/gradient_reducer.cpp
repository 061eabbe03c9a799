#include "parallel/gradient_reducer.h"

#include <unistd.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

#include "core/error.h"
#include "core/log.h"

namespace pkd::parallel {
namespace {

class MpiReducer : public GradientReducer {
 public:
  MpiReducer(dist::Comm& comm, double bucket_mb) : GradientReducer(comm, bucket_mb) {}
  std::string backend() const override { return "mpi"; }
  void broadcast(const std::vector<torch::Tensor>& tensors) override {
    // MPI has no float broadcast in dist::Comm: zero the non-root copies and sum.
    for (const auto& t : tensors) {
      torch::Tensor flat = t.view({-1});
      if (!comm_.is_root()) flat.zero_();
      sum_flat(flat);
    }
  }

 protected:
  void sum_flat(torch::Tensor& flat) override {
    comm_.allreduce_sum(flat.data_ptr<float>(), flat.numel());
  }
};

class GlooReducer : public GradientReducer {
 public:
  GlooReducer(dist::Comm& comm, const ReduceConfig& config)
      : GradientReducer(comm, config.bucket_mb) {
    // Rendezvous: rank 0 serves a TCPStore on a free port and broadcasts where it is.
    const bool one_node = comm.size() == std::max(1, local_ranks());
    std::string host = one_node ? "127.0.0.1" : hostname();
    c10d::TCPStoreOptions options;
    options.isServer = comm.is_root();
    options.numWorkers = comm.size();
    options.waitWorkers = false;  // otherwise the server blocks until every client has connected
    options.timeout = std::chrono::seconds(120);
    std::string address;
    if (comm.is_root()) {
      options.port = 0;  // any free port
      store_ = c10::make_intrusive<c10d::TCPStore>(host, options);
      address = host + ":" + std::to_string(store_->getPort());
    }
    address = comm.broadcast(address);
    if (!comm.is_root()) {
      const auto colon = address.rfind(':');
      options.port = static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
      store_ = c10::make_intrusive<c10d::TCPStore>(address.substr(0, colon), options);
    }
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(300));
    if (!config.gloo_interface.empty())
      gloo_options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(config.gloo_interface));
    else if (one_node)
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    gloo_options->threads = 1;
    group_ =
        c10::make_intrusive<c10d::ProcessGroupGloo>(store_, comm.rank(), comm.size(), gloo_options);
    log_debug("gloo process group ready (store ", address, ")");
  }
  std::string backend() const override { return "gloo"; }
  void broadcast(const std::vector<torch::Tensor>& tensors) override {
    for (const auto& t : tensors) {
      std::vector<torch::Tensor> one{t};
      group_->broadcast(one)->wait();
    }
  }

 protected:
  void sum_flat(torch::Tensor& flat) override {
    std::vector<torch::Tensor> one{flat};
    group_->allreduce(one)->wait();
  }

 private:
  static int local_ranks() {
    for (const char* var :
         {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
      if (const char* v = std::getenv(var)) return std::atoi(v);
    return 1;
  }
  static std::string hostname() {
    char name[256] = {0};
    gethostname(name, sizeof name - 1);
    return name;
  }
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

void ReduceConfig::validate() const {
  if (backend != "gloo" && backend != "mpi")
    usage_fail("parallel.backend must be gloo or mpi, got \"", backend, "\"");
  if (bucket_mb <= 0) usage_fail("parallel.bucket_mb must be positive, got ", bucket_mb);
}

std::unique_ptr<GradientReducer> GradientReducer::create(const ReduceConfig& config,
                                                         dist::Comm& comm) {
  config.validate();
  if (config.backend == "mpi" || comm.size() == 1)
    return std::make_unique<MpiReducer>(comm, config.bucket_mb);
  try {
    return std::make_unique<GlooReducer>(comm, config);
  } catch (const c10::Error& e) {
    fail("cannot set up the Gloo process group (rank ", comm.rank(),
         "): ", e.what_without_backtrace(),
         ". Set parallel.gloo_interface to the cluster network's interface, or parallel.backend = "
         "\"mpi\"");
  }
}

void GradientReducer::reduce(const std::vector<torch::Tensor>& tensors, double scale) {
  if (comm_.size() == 1) return;
  torch::NoGradGuard no_grad;
  std::size_t i = 0;
  while (i < tensors.size()) {
    // One bucket: consecutive tensors up to bucket_bytes_ (at least one tensor).
    std::size_t j = i;
    double bytes = 0;
    std::vector<torch::Tensor> views;
    while (j < tensors.size() &&
           (views.empty() || bytes + tensors[j].numel() * 4.0 <= bucket_bytes_)) {
      const auto& t = tensors[j];
      if (t.scalar_type() != torch::kFloat || !t.is_contiguous() || !t.device().is_cpu())
        fail("all-reduce: tensor ", j, " is not a contiguous float32 CPU tensor");
      views.push_back(t.view({-1}));
      bytes += static_cast<double>(t.numel()) * 4.0;
      ++j;
    }
    torch::Tensor flat = views.size() == 1 ? views[0] : torch::cat(views);
    sum_flat(flat);
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
}

}  // namespace pkd::parallel
