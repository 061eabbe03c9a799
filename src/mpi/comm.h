#pragma once
// The process group of a pkd job. Under `mpirun`/`srun` (detected from the launcher's
// environment) MPI is initialised and every rank takes part; run directly, pkd is a single
// process and never touches MPI. MPI stays out of this header so most code does not see it.
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace pkd::mpi {

class Comm {
 public:
  // Initialises MPI when launched by an MPI launcher; idempotent.
  static Comm& init(int* argc, char*** argv);
  // The initialised group (single-process if init was never called).
  static Comm& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  bool uses_mpi() const { return mpi_; }

  // What a barrier waits for, which decides how SIGTERM bounds it (note_termination).
  enum class Wait {
    kPeers,       // the other ranks' work: kTerminatingGraceSeconds once SIGTERM arrived
    kRootWrites,  // rank 0 writing files (a checkpoint): parallel.timeout_s still, so that a
                  // preempted job's last checkpoint is not cut short
  };
  void barrier(Wait wait = Wait::kPeers);
  // True on every rank if `flag` is true on any rank: agreeing on a control-flow decision.
  bool any(bool flag);
  // In place, element-wise: nonzero on return where any rank had nonzero (a bitmap union).
  void any_each(std::vector<std::uint8_t>& flags);
  std::int64_t sum(std::int64_t value);
  std::int64_t max(std::int64_t value);
  // In-place element-wise sum over ranks of `count` floats (MPI_Allreduce).
  void allreduce_sum(float* data, std::int64_t count);
  // Rank 0's string on every rank.
  std::string broadcast(const std::string& value);
  // Rank 0's value on every rank, for trivially copyable types (flags, positions, structs of
  // numbers): its bytes, so no text round trip can round a double.
  template <class T>
  T broadcast_value(T value) {
    static_assert(std::is_trivially_copyable_v<T>, "broadcast_value copies bytes");
    broadcast_bytes(&value, sizeof value);
    return value;
  }
  // Rank 0's elements on every rank, in place; `values` has the same size on every rank.
  template <class T>
  void broadcast_values(std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>, "broadcast_values copies bytes");
    broadcast_bytes(values.data(), values.size() * sizeof(T));
  }
  // Every rank's string on rank 0 (empty vector elsewhere).
  std::vector<std::string> gather(const std::string& value);

  // MPI collectives never time out by themselves: a rank that died mid-collective, or whose host
  // lost its link, leaves the others blocked for good (TCP retransmits for ~15 minutes and then
  // MPI may still wait). Once armed, a watchdog thread ends this process with a message (exit
  // code 1) when one of the calls above has not returned after `seconds`, so that the launcher
  // (srun --kill-on-bad-exit, mpirun) brings the job down. 0 disarms. Training arms it with
  // parallel.timeout_s; commands whose ranks may legitimately wait long for each other
  // (tokenize, cache-teacher: unequal shares of the data) leave it off.
  void set_collective_timeout(double seconds);
  // Async-signal-safe, for a SIGTERM handler: the launcher is stopping the job (srun after a rank
  // died, scancel, a time limit). From then on a collective blocked for more than
  // kTerminatingGraceSeconds also ends the process: its peers are most likely gone, and waiting
  // for parallel.timeout_s or the launcher's SIGKILL (Slurm's KillWait, 30 s) only delays the
  // job's end. A rank that is not blocked finishes what it does (a checkpoint being written), and
  // a barrier(Wait::kRootWrites) keeps the full limit.
  static void note_termination() noexcept;
  static constexpr double kTerminatingGraceSeconds = 5;

  // Brings the whole job down (MPI_Abort) after the caller printed why; plain exit when alone.
  [[noreturn]] void abort(int exit_code);
  void finalize();

 private:
  void broadcast_bytes(void* data, std::size_t size);
  Comm() = default;
  int rank_ = 0;
  int size_ = 1;
  bool mpi_ = false;
  bool finalized_ = false;
};

// True when the environment says an MPI launcher (mpirun, srun with PMIx/PMI) started us.
bool launched_by_mpi();
// Ranks of this job on this node, from the launcher's environment (1 when alone).
int local_rank_count();
// This rank's index among them (Open MPI, MPICH/Hydra or srun; 0 when alone).
int local_rank();
// This host's name (gethostname).
std::string hostname();

}  // namespace pkd::mpi
