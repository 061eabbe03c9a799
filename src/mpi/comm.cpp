#include "mpi/comm.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

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
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What the watchdog reads: the collective in progress (name, start in steady-clock ms; 0 = none)
// and the limit (ms; 0 = disarmed). Constant-initialised with a trivial destructor, so that a
// signal handler and the detached thread (which may outlive main()) can always use it.
struct Watch {
  std::atomic<const char*> what{nullptr};
  std::atomic<std::int64_t> started_ms{0};
  std::atomic<std::int64_t> limit_ms{0};
  std::atomic<bool> terminating{false};  // lock-free: set from a signal handler
  std::atomic<bool> patient{false};      // the collective in progress keeps the full limit
  std::once_flag thread_started;
};
Watch g_watch;

// Marks one MPI collective of this (the main) thread for the watchdog.
class Collective {
 public:
  explicit Collective(const char* what, bool patient = false) {
    g_watch.what.store(what);
    g_watch.patient.store(patient);
    g_watch.started_ms.store(now_ms());
  }
  ~Collective() { g_watch.started_ms.store(0); }
  Collective(const Collective&) = delete;
  Collective& operator=(const Collective&) = delete;
};

[[noreturn]] void watchdog(int rank, int size) {
  Watch& w = g_watch;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::int64_t started = w.started_ms.load();
    std::int64_t limit = w.limit_ms.load();
    if (w.terminating.load() && !w.patient.load() && limit > 0)
      limit = std::min<std::int64_t>(limit, Comm::kTerminatingGraceSeconds * 1000);
    if (started == 0 || limit == 0 || now_ms() - started <= limit) continue;
    // MPI_Abort is not allowed from this thread while the main thread is inside MPI (the
    // library is initialised single-threaded): exit, and let the launcher stop the others.
    log_error(w.what.load(), " of rank ", rank, "/", size, " on host ", hostname(),
              " has not completed after ", static_cast<double>(limit) / 1000,
              w.terminating.load() ? " s while the launcher is stopping the job (SIGTERM)"
                                   : " s (parallel.timeout_s)",
              ": another rank died or hangs, or its host is unreachable; exiting so that the "
              "launcher brings the job down");
    std::_Exit(1);
  }
}

}  // namespace

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

void Comm::barrier(Wait wait) {
  if (!mpi_) return;
  const Collective c("MPI_Barrier", wait == Wait::kRootWrites);
  PKD_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}

bool Comm::any(bool flag) {
  if (!mpi_) return flag;
  int local = flag ? 1 : 0, global = 0;
  const Collective c("MPI_Allreduce (an agreement)");
  PKD_MPI_CHECK(MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  return global != 0;
}

void Comm::any_each(std::vector<std::uint8_t>& flags) {
  if (!mpi_ || flags.empty()) return;
  const Collective c("MPI_Allreduce (a bitmap union)");
  PKD_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, flags.data(), static_cast<int>(flags.size()),
                              MPI_UINT8_T, MPI_MAX, MPI_COMM_WORLD));
}

std::int64_t Comm::sum(std::int64_t value) {
  if (!mpi_) return value;
  std::int64_t out = 0;
  const Collective c("MPI_Allreduce (a sum)");
  PKD_MPI_CHECK(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD));
  return out;
}

std::int64_t Comm::max(std::int64_t value) {
  if (!mpi_) return value;
  std::int64_t out = 0;
  const Collective c("MPI_Allreduce (a maximum)");
  PKD_MPI_CHECK(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD));
  return out;
}

void Comm::allreduce_sum(float* data, std::int64_t count) {
  if (!mpi_) return;
  const Collective c("MPI_Allreduce (a float sum)");
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
  const Collective c("MPI_Bcast (a string)");
  PKD_MPI_CHECK(MPI_Bcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  std::string out = rank_ == 0 ? value : std::string(static_cast<std::size_t>(length), '\0');
  PKD_MPI_CHECK(MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD));
  return out;
}

void Comm::broadcast_bytes(void* data, std::size_t size) {
  if (!mpi_) return;
  const Collective c("MPI_Bcast");
  PKD_MPI_CHECK(MPI_Bcast(data, static_cast<int>(size), MPI_BYTE, 0, MPI_COMM_WORLD));
}

std::vector<std::string> Comm::gather(const std::string& value) {
  if (!mpi_) return {value};
  const Collective c("MPI_Gather");
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

void Comm::set_collective_timeout(double seconds) {
  if (!mpi_ || size_ == 1) return;
  g_watch.limit_ms.store(static_cast<std::int64_t>(seconds * 1000));
  if (seconds > 0)
    std::call_once(g_watch.thread_started,
                   [this] { std::thread(watchdog, rank_, size_).detach(); });
}

void Comm::note_termination() noexcept {
  static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
  g_watch.terminating.store(true);
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
