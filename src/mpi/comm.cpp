#include "mpi/comm.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "core/log.h"

// Every MPI call goes through this check: a failing call becomes an Error naming the call.
#define PKD_MPI_CHECK(call)                                                         \
  do {                                                                              \
    int pkd_mpi_rc_ = (call);                                                       \
    if (pkd_mpi_rc_ != MPI_SUCCESS) {                                               \
      char pkd_mpi_msg_[MPI_MAX_ERROR_STRING];                                      \
      int pkd_mpi_len_ = 0;                                                         \
      MPI_Error_string(pkd_mpi_rc_, pkd_mpi_msg_, &pkd_mpi_len_);                   \
      ::pkd::fail("MPI call ", #call, " failed at ", __FILE__, ":", __LINE__, ": ", \
                  std::string(pkd_mpi_msg_, pkd_mpi_len_));                         \
    }                                                                               \
  } while (0)

namespace pkd::mpi {

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(var)) return true;
  return false;
}

Comm& Comm::world() {
  static Comm comm;
  return comm;
}

Comm& Comm::init(int* argc, char*** argv) {
  Comm& c = world();
  if (c.mpi_ || !launched_by_mpi()) return c;
  int initialized = 0;
  PKD_MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized) PKD_MPI_CHECK(MPI_Init(argc, argv));
  // Errors come back as codes (checked above) instead of aborting inside MPI.
  PKD_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  PKD_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_));
  PKD_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &c.size_));
  c.mpi_ = true;
  set_log_rank(c.rank_, c.size_);
  return c;
}

void Comm::barrier() {
  if (mpi_) PKD_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}

bool Comm::any(bool flag) {
  if (!mpi_) return flag;
  int local = flag ? 1 : 0, global = 0;
  PKD_MPI_CHECK(MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  return global != 0;
}

void Comm::any_each(std::vector<std::uint8_t>& flags) {
  if (!mpi_ || flags.empty()) return;
  PKD_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, flags.data(), static_cast<int>(flags.size()),
                              MPI_UINT8_T, MPI_MAX, MPI_COMM_WORLD));
}

std::int64_t Comm::sum(std::int64_t value) {
  if (!mpi_) return value;
  std::int64_t out = 0;
  PKD_MPI_CHECK(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD));
  return out;
}

std::int64_t Comm::max(std::int64_t value) {
  if (!mpi_) return value;
  std::int64_t out = 0;
  PKD_MPI_CHECK(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD));
  return out;
}

void Comm::allreduce_sum(float* data, std::int64_t count) {
  if (!mpi_) return;
  // MPI counts are int: reduce in slices of at most 2^30 elements.
  for (std::int64_t done = 0; done < count;) {
    const int n = static_cast<int>(std::min<std::int64_t>(count - done, std::int64_t{1} << 30));
    PKD_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + done, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    done += n;
  }
}

std::string Comm::broadcast(const std::string& value) {
  if (!mpi_) return value;
  std::int64_t length = static_cast<std::int64_t>(value.size());
  PKD_MPI_CHECK(MPI_Bcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  std::string out = rank_ == 0 ? value : std::string(static_cast<std::size_t>(length), '\0');
  PKD_MPI_CHECK(MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD));
  return out;
}

void Comm::broadcast_bytes(void* data, std::size_t size) {
  if (!mpi_) return;
  PKD_MPI_CHECK(MPI_Bcast(data, static_cast<int>(size), MPI_BYTE, 0, MPI_COMM_WORLD));
}

std::vector<std::string> Comm::gather(const std::string& value) {
  if (!mpi_) return {value};
  int length = static_cast<int>(value.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_));
  PKD_MPI_CHECK(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
  std::vector<int> displacements(lengths.size(), 0);
  int total = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    displacements[i] = total;
    total += lengths[i];
  }
  std::string all(static_cast<std::size_t>(rank_ == 0 ? total : 0), '\0');
  PKD_MPI_CHECK(MPI_Gatherv(value.data(), length, MPI_CHAR, all.data(), lengths.data(),
                            displacements.data(), MPI_CHAR, 0, MPI_COMM_WORLD));
  std::vector<std::string> out;
  if (rank_ == 0)
    for (std::size_t i = 0; i < lengths.size(); ++i)
      out.push_back(all.substr(static_cast<std::size_t>(displacements[i]),
                               static_cast<std::size_t>(lengths[i])));
  return out;
}

void Comm::abort(int exit_code) {
  if (mpi_ && !finalized_) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

void Comm::finalize() {
  if (mpi_ && !finalized_) {
    finalized_ = true;
    MPI_Finalize();
  }
}

int local_rank_count() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  return 1;
}

int local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n >= 0) return n;
    }
  return 0;
}

std::string hostname() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace pkd::mpi
