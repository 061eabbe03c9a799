// The Gloo backend (LibTorch's c10d::ProcessGroupGloo). Built only where c10d's Gloo headers
// exist (PKD_WITH_GLOO): Debian's libtorch-dev + libgloo-dev have them, the 2.x pip wheels not.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "mpi/comm.h"
#include "parallel/endpoint.h"
#include "parallel/reducers.h"

namespace pkd::parallel {
namespace {

// Distinct rank addresses listed by the log line; a large job's line stays short.
constexpr std::size_t kLoggedAddresses = 8;
// Ends the advice of a failed connection: "If this host reaches rank 0" + kFix.
constexpr char kFix[] =
    " through another network, set parallel.gloo_interface to its interface (or "
    "parallel.backend = \"mpi\")";

std::chrono::milliseconds to_milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

// The message of what c10d or Gloo threw, without a final period (a sentence of ours follows):
// c10::Error without its backtrace; c10d's timeouts and Gloo's I/O errors are plain
// std::runtime_errors.
std::string message_of(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string text(trim(c10 ? c10->what_without_backtrace() : e.what()));
  while (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// "198.18.0.11, 198.18.0.12": each address once, in rank order.
std::string addresses_text(const std::vector<std::string>& addresses) {
  std::set<std::string> seen;
  std::vector<std::string> listed;
  for (const auto& a : addresses)
    if (seen.insert(a).second && listed.size() < kLoggedAddresses) listed.push_back(a);
  std::string text = join(listed, ", ");
  if (seen.size() > listed.size()) text += cat(" and ", seen.size() - listed.size(), " more");
  return text;
}

// Every rank stops together when any rank failed, all with the failing ranks' own messages
// (gathered by rank 0 and broadcast): the first rank to exit may take the others down before
// they print, so no reason may depend on its own rank living long enough to say it. Collective.
void stop_if_any_failed(mpi::Comm& comm, const std::string& failure) {
  if (!comm.any(!failure.empty())) return;
  std::string reasons;
  for (const auto& f : comm.gather(failure))
    if (!f.empty()) reasons += (reasons.empty() ? "" : "; ") + f;
  fail(comm.broadcast(reasons));
}

class GlooReducer : public GradientReducer {
 public:
  GlooReducer(mpi::Comm& comm, const ReduceConfig& config)
      : GradientReducer(comm, config.bucket_mb, /*device_native=*/false, /*runs_alone=*/false),
        endpoints_(agree_endpoints(comm, config.gloo_interface)),
        timeout_s_(config.timeout_s) {
    const std::string store = connect_store(endpoints_, config.rendezvous_timeout_s);
    if (comm.is_root())
      log_info("gloo: store at ", store, "; ranks on ", addresses_text(endpoints_.rank_addresses),
               "; ", endpoints_.how);
    connect_group(endpoints_, store, config.timeout_s);
  }
  Backend backend() const override { return Backend::kGloo; }

 protected:
  void sum_flat(torch::Tensor& flat) override { start_sum(flat).wait(); }
  // Gloo's worker thread runs the all-reduce while this thread goes on (backward, with
  // parallel.overlap); the wait rethrows what failed there.
  PendingSum start_sum(torch::Tensor& flat) override {
    std::vector<torch::Tensor> one{flat};
    auto work = collective("all-reduce", [&] { return group_->allreduce(one); });
    return PendingSum([this, work] { collective("all-reduce", [&] { work->wait(); }); });
  }
  bool sums_in_background(torch::Device device) const override { return device.is_cpu(); }
  void broadcast_flat(torch::Tensor& flat) override {
    std::vector<torch::Tensor> one{flat};
    collective("broadcast", [&] { group_->broadcast(one)->wait(); });
  }

 private:
  // Rank 0 serves the store on a free port, every rank connects to it; returns "address:port".
  // Collective.
  std::string connect_store(const Endpoints& endpoints, double timeout_s) {
    c10d::TCPStoreOptions options;
    options.isServer = comm_.is_root();
    options.numWorkers = comm_.size();
    options.waitWorkers = false;  // otherwise the server blocks until every client has connected
    // Also how long each rank waits for the others' Gloo addresses in the store.
    options.timeout = to_milliseconds(timeout_s);
    std::string failure;  // why this rank could not take its part ("" = it could)
    std::uint16_t port = 0;
    if (comm_.is_root()) {
      // c10d listens on every local address (one IPv6 socket on [::] that also takes IPv4);
      // rank 0's own client connects to store_address.
      options.port = 0;  // any free port
      try {
        store_ = c10::make_intrusive<c10d::TCPStore>(endpoints.store_address, options);
        port = store_->getPort();
      } catch (const std::exception& e) {
        failure =
            cat(who(), " could not serve the Gloo rendezvous store at ", endpoints.store_address,
                " (chosen because ", endpoints.how, "): ", message_of(e));
      }
    }
    // A port of 0 tells every rank that rank 0 failed, so they all stop with its message.
    port = comm_.broadcast_value(port);
    if (port == 0) fail(comm_.broadcast(failure));
    const std::string store = cat(endpoints.store_address, ":", port);
    if (!comm_.is_root()) {
      options.port = port;
      try {
        store_ = c10::make_intrusive<c10d::TCPStore>(endpoints.store_address, options);
      } catch (const std::exception& e) {
        failure =
            cat(who(), " could not reach the Gloo rendezvous store at ", store, " (waited up to ",
                timeout_s, " s, parallel.rendezvous_timeout_s; chosen because ", endpoints.how,
                "): ", message_of(e), ". If this host reaches rank 0", kFix);
      }
    }
    stop_if_any_failed(comm_, failure);
    return store;
  }

  // The process group, its device bound to this rank's chosen address. Collective.
  void connect_group(const Endpoints& endpoints, const std::string& store, double timeout_s) {
    const std::string& address = endpoints.rank_addresses[static_cast<std::size_t>(comm_.rank())];
    std::string failure;
    try {
      auto options = c10d::ProcessGroupGloo::Options::create(to_milliseconds(timeout_s));
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(address));
      options->threads = 1;
      group_ =
          c10::make_intrusive<c10d::ProcessGroupGloo>(store_, comm_.rank(), comm_.size(), options);
    } catch (const std::exception& e) {
      failure = cat(who(), " could not connect its Gloo device at ", address,
                    " to the other ranks (store at ", store, ", chosen because ", endpoints.how,
                    "): ", message_of(e), ". If the hosts reach each other", kFix);
    }
    stop_if_any_failed(comm_, failure);
  }

  std::string who() const { return cat("rank ", comm_.rank(), " (host ", mpi::hostname(), ")"); }

  // Runs one collective; a failure (Gloo's timeout, a reset connection) names the lost peer when
  // Gloo's message has its address ("Read error [198.18.0.12]:6869: Connection reset by peer").
  template <class F>
  auto collective(const char* what, F run) -> decltype(run()) {
    try {
      return run();
    } catch (const std::exception& e) {
      const std::string message = message_of(e);
      fail(who(), ": the Gloo ", what, " failed: ", message, ". ", suspects(message),
           " (parallel.timeout_s = ", timeout_s_, " s)");
    }
  }

  // "Rank 1 (host pkdn2) died, or ..." for the ranks whose address is in `message`.
  std::string suspects(const std::string& message) const {
    std::vector<std::string> named;
    const auto& addresses = endpoints_.rank_addresses;
    for (std::size_t r = 0; r < addresses.size(); ++r)
      if (static_cast<int>(r) != comm_.rank() && addresses[r] != addresses[comm_.rank()] &&
          message.find("[" + addresses[r] + "]") != std::string::npos)
        named.push_back(
            cat("rank ", r, " (host ", endpoints_.rank_hosts[r], ", ", addresses[r], ")"));
    if (named.empty()) return "Another rank died or hangs, or its host became unreachable";
    return cat("Lost ", join(named, " or "), ": it died or hangs, or its host became unreachable");
  }

  Endpoints endpoints_;
  double timeout_s_;
  c10::intrusive_ptr<c10d::TCPStore> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

std::unique_ptr<GradientReducer> make_gloo_reducer(const ReduceConfig& config, mpi::Comm& comm) {
  return std::make_unique<GlooReducer>(comm, config);
}

}  // namespace pkd::parallel
