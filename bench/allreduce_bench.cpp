// Gradient all-reduce: Gloo (c10d) vs MPI_Allreduce on the same float32 buffers, in one run.
// Run under `mpirun -np 2`. Prints the median seconds per all-reduce of SIZE_MB and the ratio.
// Usage: mpirun -np 2 pkd_bench_allreduce [SIZE_MB] [ITERS]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"

int main(int argc, char** argv) {
  auto& comm = pkd::mpi::Comm::init(&argc, &argv);
  const double size_mb = argc > 1 ? std::atof(argv[1]) : 100;
  const int iters = argc > 2 ? std::atoi(argv[2]) : 10;
  double median[2];
  const char* backends[2] = {"gloo", "mpi"};
  for (int b = 0; b < 2; ++b) {
    pkd::parallel::ReduceConfig config;
    config.backend = backends[b];
    config.bucket_mb = 25;
    auto reducer = pkd::parallel::GradientReducer::create(config, comm);
    std::vector<torch::Tensor> grads{torch::randn({static_cast<long>(size_mb * 1024 * 1024 / 4)})};
    std::vector<double> seconds;
    for (int i = 0; i < iters + 1; ++i) {
      comm.barrier();
      auto start = std::chrono::steady_clock::now();
      reducer->allreduce_mean(grads);
      if (i > 0)
        seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    median[b] = seconds[seconds.size() / 2];
  }
  if (comm.is_root())
    std::printf(
        "%d ranks, %.0f MB float32 in 25 MB buckets: gloo %.3f s, mpi %.3f s per all-reduce: gloo "
        "is %.2fx mpi\n",
        comm.size(), size_mb, median[0], median[1], median[1] / median[0]);
  comm.finalize();
  return 0;
}
