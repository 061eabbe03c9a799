#pragma once
// The rendezvous of the NCCL reducer, exposed for tests: rank 0's ncclUniqueId (its bytes) on
// every rank, broadcast over MPI. Needs no GPU. Only in builds with NCCL (PKD_WITH_NCCL).
#include <string>

#include "mpi/comm.h"

namespace pkd::parallel {

std::string nccl_unique_id(mpi::Comm& comm);

}  // namespace pkd::parallel
