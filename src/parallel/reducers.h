#pragma once
// Private to src/parallel: the backends' factories, each in its own translation unit so that a
// build without Gloo or NCCL leaves that unit out (CMake options PKD_WITH_GLOO, PKD_WITH_NCCL).
#include <memory>

#include "parallel/gradient_reducer.h"

namespace pkd::parallel {

std::unique_ptr<GradientReducer> make_mpi_reducer(const ReduceConfig& config, mpi::Comm& comm);
#if PKD_WITH_GLOO
std::unique_ptr<GradientReducer> make_gloo_reducer(const ReduceConfig& config, mpi::Comm& comm);
#endif
#if PKD_WITH_NCCL
// One GPU per rank: `device` must be a CUDA device with an index.
std::unique_ptr<GradientReducer> make_nccl_reducer(const ReduceConfig& config, mpi::Comm& comm,
                                                   torch::Device device);
#endif

}  // namespace pkd::parallel
