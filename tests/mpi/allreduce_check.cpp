// Run under `mpirun -np N`: for each backend, tensors whose values depend on the rank are
// averaged in buckets and compared with the exact mean; broadcast gives rank 0's values. A
// backend this build lacks (Gloo, NCCL: CMake's PKD_WITH_GLOO, PKD_WITH_NCCL) must instead be
// refused by ReduceConfig::validate with a message that names it and what the build has
// (tests/build/without_gloo_nccl.sh runs this in a build with neither).
// Prints PASS/FAIL per check; exit code 1 on any failure (on any rank).
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"

namespace {

// Whether validate() refuses `backend` with the message users see.
bool refused(const char* backend) {
  pkd::parallel::ReduceConfig config;
  config.backend = backend;
  try {
    config.validate();
  } catch (const std::exception& e) {
    const std::string want = std::string("parallel.backend = \"") + backend +
                             "\" but this build of pkd has no " + backend +
                             " reducer (it has: " + pkd::parallel::built_backends() + ")";
    if (std::string(e.what()).find(want) != std::string::npos) return true;
    std::printf("unexpected message: %s\n", e.what());
    return false;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  auto& comm = pkd::mpi::Comm::init(&argc, &argv);
  bool ok = true;
  if (!PKD_WITH_NCCL) {
    const bool good = refused("nccl");
    if (comm.is_root())
      std::printf("%s: nccl refused by a build without it\n", good ? "PASS" : "FAIL");
    ok = ok && good;
  }
  for (const char* backend : {"gloo", "mpi"}) {
    if (std::string(backend) == "gloo" && !PKD_WITH_GLOO) {
      const bool good = refused("gloo");
      if (comm.is_root())
        std::printf("%s: gloo refused by a build without it\n", good ? "PASS" : "FAIL");
      ok = ok && good;
      continue;
    }
    pkd::parallel::ReduceConfig config;
    config.backend = backend;
    config.bucket_mb = 0.01;  // ~2,600 floats: several buckets, and tensors larger than one
    auto reducer = pkd::parallel::GradientReducer::create(config, comm);
    const int r = comm.rank(), n = comm.size();
    std::vector<torch::Tensor> tensors{torch::full({3, 1000}, 1.0f + r),
                                       torch::full({7}, 10.0f * r),
                                       torch::arange(5000, torch::kFloat) * (r + 1)};
    reducer->allreduce_mean(tensors);
    const float mean_r = (n - 1) / 2.0f;
    bool good = torch::allclose(tensors[0], torch::full({3, 1000}, 1.0f + mean_r)) &&
                torch::allclose(tensors[1], torch::full({7}, 10.0f * mean_r)) &&
                torch::allclose(tensors[2], torch::arange(5000, torch::kFloat) * (mean_r + 1));
    std::vector<torch::Tensor> sums{torch::full({10}, static_cast<float>(r + 1))};
    reducer->allreduce_sum(sums);
    good = good && torch::equal(sums[0], torch::full({10}, n * (n + 1) / 2.0f));
    std::vector<torch::Tensor> params{torch::full({4, 4}, static_cast<float>(r + 7))};
    reducer->broadcast(params);
    good = good && torch::equal(params[0], torch::full({4, 4}, 7.0f));
    good = !comm.any(!good);  // every rank agrees on the verdict
    if (comm.is_root())
      std::printf("%s: %s allreduce_mean, allreduce_sum, broadcast on %d ranks\n",
                  good ? "PASS" : "FAIL", backend, n);
    ok = ok && good;
  }
  comm.finalize();
  return ok ? 0 : 1;
}
