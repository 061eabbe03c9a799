// The NCCL reducer under `mpirun -np N`, in three modes (exit 0 pass, 1 fail, 77 skipped):
//   rendezvous  rank 0's ncclUniqueId reaches every rank intact over MPI (needs no GPU);
//   no-gpu      without a GPU, asking for the NCCL backend is refused on every rank with a
//               clear message (skipped where a GPU exists);
//   reduce      on GPUs: the NCCL reducer's sum, mean and broadcast of CUDA tensors equal the
//               exact values — or, where ranks outnumber the node's GPUs, NCCL is refused with
//               a clear message — and the host-staged MPI reducer gives the same on CUDA tensors.
// Every rank agrees on the verdict; rank 0 prints PASS/FAIL/SKIP lines.
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "core/error.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"
#include "parallel/nccl_id.h"

namespace {

using pkd::parallel::GradientReducer;
using pkd::parallel::ReduceConfig;

void say(pkd::mpi::Comm& comm, bool ok, const std::string& what) {
  if (comm.is_root()) std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what.c_str());
}

bool rendezvous(pkd::mpi::Comm& comm) {
  const std::string id = pkd::parallel::nccl_unique_id(comm);
  const auto all = comm.gather(id);
  bool ok = true;
  if (comm.is_root()) {
    ok = id.size() == 128 && id != std::string(128, '\0');
    for (const auto& other : all) ok = ok && other == id;
  }
  ok = !comm.any(!ok);
  say(comm, ok,
      "rank 0's 128-byte ncclUniqueId reached all " + std::to_string(comm.size()) +
          " ranks over MPI");
  return ok;
}

// Runs `make` and returns the error message ("" when it succeeded).
template <class F>
std::string error_of(F make) {
  try {
    make();
  } catch (const pkd::Error& e) {
    return e.what();
  }
  return "";
}

bool no_gpu(pkd::mpi::Comm& comm) {
  ReduceConfig config;
  config.backend = "nccl";
  const std::string msg =
      error_of([&] { GradientReducer::create(config, comm, torch::Device(torch::kCUDA, 0)); });
  const bool ok = !comm.any(msg.find("needs one GPU per rank") == std::string::npos);
  say(comm, ok, "nccl without a GPU is refused on every rank: " + msg);
  return ok;
}

// Rank-dependent CUDA tensors averaged, summed and broadcast by `backend`, against exact values.
bool reduce_with(pkd::mpi::Comm& comm, const std::string& backend, torch::Device device) {
  ReduceConfig config;
  config.backend = backend;
  config.bucket_mb = 0.01;  // several buckets, and tensors larger than one
  auto reducer = GradientReducer::create(config, comm, device);
  const int r = comm.rank(), n = comm.size();
  const auto on = torch::TensorOptions(torch::kFloat).device(device);
  std::vector<torch::Tensor> t{torch::full({3, 1000}, 1.0f + r, on),
                               torch::arange(5000, on) * (r + 1)};
  reducer->allreduce_mean(t);
  const float mean_r = (n - 1) / 2.0f;
  bool ok = torch::allclose(t[0].cpu(), torch::full({3, 1000}, 1.0f + mean_r)) &&
            torch::allclose(t[1].cpu(), torch::arange(5000, torch::kFloat) * (mean_r + 1));
  std::vector<torch::Tensor> sums{torch::full({10}, static_cast<float>(r + 1), on)};
  reducer->allreduce_sum(sums);
  ok = ok && torch::equal(sums[0].cpu(), torch::full({10}, n * (n + 1) / 2.0f));
  std::vector<torch::Tensor> params{torch::full({4, 4}, static_cast<float>(r + 7), on)};
  reducer->broadcast(params);
  ok = ok && torch::equal(params[0].cpu(), torch::full({4, 4}, 7.0f));
  ok = !comm.any(!ok);
  say(comm, ok,
      backend + " (" + pkd::parallel::backend_name(reducer->backend()) +
          ") mean, sum and broadcast of CUDA tensors on " + std::to_string(n) + " ranks");
  return ok;
}

bool reduce(pkd::mpi::Comm& comm) {
  const int gpus = static_cast<int>(torch::cuda::device_count());
  const torch::Device device(torch::kCUDA,
                             static_cast<c10::DeviceIndex>(pkd::mpi::local_rank() % gpus));
  bool ok = true;
  if (pkd::mpi::local_rank_count() <= gpus) {
    ok = reduce_with(comm, "nccl", device);
  } else {
    ReduceConfig config;
    config.backend = "nccl";
    const auto start = std::chrono::steady_clock::now();
    const std::string msg = error_of([&] { GradientReducer::create(config, comm, device); });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ok = !comm.any(msg.find("needs one GPU per rank") == std::string::npos);
    say(comm, ok,
        "nccl with " + std::to_string(comm.size()) + " ranks on " + std::to_string(gpus) +
            " GPU(s) refused in " + std::to_string(seconds) + " s: " + msg);
  }
  return reduce_with(comm, "mpi", device) && ok;
}

}  // namespace

int main(int argc, char** argv) {
  auto& comm = pkd::mpi::Comm::init(&argc, &argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  int rc = 1;
  try {
    if (mode == "rendezvous") {
      rc = rendezvous(comm) ? 0 : 1;
    } else if (mode == "no-gpu") {
      if (torch::cuda::is_available()) {
        if (comm.is_root()) std::printf("SKIP: a GPU is present\n");
        rc = 77;
      } else {
        rc = no_gpu(comm) ? 0 : 1;
      }
    } else if (mode == "reduce") {
      if (!torch::cuda::is_available()) {
        if (comm.is_root()) std::printf("SKIP: no GPU\n");
        rc = 77;
      } else {
        rc = reduce(comm) ? 0 : 1;
      }
    } else {
      std::fprintf(stderr, "usage: pkd_nccl_check rendezvous|no-gpu|reduce\n");
      rc = 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", comm.rank(), e.what());
    comm.abort(1);
  }
  comm.finalize();
  return rc;
}
