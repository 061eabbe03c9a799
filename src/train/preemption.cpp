#include "train/preemption.h"

#include <csignal>

#include "mpi/comm.h"

namespace pkd::train {
namespace {

volatile std::sig_atomic_t g_requested = 0;

extern "C" void on_preemption_signal(int) {
  g_requested = 1;
}

// SIGTERM also tells the collective watchdog that the launcher is stopping the job.
extern "C" void on_termination_signal(int) {
  g_requested = 1;
  mpi::Comm::note_termination();
}

}  // namespace

void install_preemption_handlers() {
  static const bool installed = [] {
    std::signal(SIGUSR1, on_preemption_signal);
    std::signal(SIGTERM, on_termination_signal);
    return true;
  }();
  (void)installed;
}

bool preemption_requested() {
  return g_requested != 0;
}

}  // namespace pkd::train
