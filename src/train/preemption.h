#pragma once
// Preemption: Slurm sends a warning signal before a time limit or preemption (sbatch
// --signal=USR1@120); SIGTERM comes first when a job is cancelled or preempted. The handler only
// sets a flag; the trainer checks it after every optimizer step, all ranks agree (any rank's
// flag stops all), saves a checkpoint and exits with kExitPreempted so that the job script can
// requeue itself and resume from `latest`. SIGTERM also shortens the collective watchdog's limit
// (mpi::Comm::note_termination): a rank blocked on a peer that is gone does not wait it out.
namespace pkd::train {

// EX_TEMPFAIL from sysexits.h: "try again later".
inline constexpr int kExitPreempted = 75;

// Installs the SIGUSR1/SIGTERM handlers (idempotent).
void install_preemption_handlers();
// True once a preemption signal arrived in this process.
bool preemption_requested();

}  // namespace pkd::train
