// The Gloo backend (LibTorch's c10d::ProcessGroupGloo). Built only where c10d's Gloo headers
// exist (PKD_WITH_GLOO): Debian's libtorch-dev + libgloo-dev have them, the 2.x pip wheels not.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>

#include "core/error.h"
#include "core/log.h"
#include "mpi/comm.h"
#include "parallel/reducers.h"

namespace pkd::parallel {
namespace {

class GlooReducer : public GradientReducer {
 public:
  GlooReducer(mpi::Comm& comm, const ReduceConfig& config)
      : GradientReducer(comm, config.bucket_mb, /*device_native=*/false, /*runs_alone=*/false) {
    // Rendezvous: rank 0 serves a TCPStore on a free port and broadcasts where it is.
    const bool one_node = comm.size() == mpi::local_rank_count();
    std::string host = one_node ? "127.0.0.1" : mpi::hostname();
    const auto timeout = std::chrono::milliseconds(static_cast<long>(config.timeout_s * 1000));
    c10d::TCPStoreOptions options;
    options.isServer = comm.is_root();
    options.numWorkers = comm.size();
    options.waitWorkers = false;  // otherwise the server blocks until every client has connected
    options.timeout = timeout;
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
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
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
  Backend backend() const override { return Backend::kGloo; }

 protected:
  void sum_flat(torch::Tensor& flat) override {
    std::vector<torch::Tensor> one{flat};
    group_->allreduce(one)->wait();
  }
  void broadcast_flat(torch::Tensor& flat) override {
    std::vector<torch::Tensor> one{flat};
    group_->broadcast(one)->wait();
  }

 private:
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

std::unique_ptr<GradientReducer> make_gloo_reducer(const ReduceConfig& config, mpi::Comm& comm) {
  try {
    return std::make_unique<GlooReducer>(comm, config);
  } catch (const c10::Error& e) {
    fail("cannot set up the Gloo process group (rank ", comm.rank(),
         "): ", e.what_without_backtrace(),
         ". Set parallel.gloo_interface to the cluster network's interface, or parallel.backend = "
         "\"mpi\"");
  }
}

}  // namespace pkd::parallel
