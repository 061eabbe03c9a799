#pragma once
// Sums or averages gradients (or any float32 tensors) over the ranks of a job: the tensors are
// flattened into buckets of about `bucket_mb`, each bucket is all-reduced in place and scaled.
// Backends (which are built is printed by CMake and `pkd --version`):
//  - "nccl": NCCL on CUDA tensors, one GPU per rank; the communicator's unique id is broadcast
//    over MPI (nccl_reducer.cpp).
//  - "gloo": LibTorch's c10d::ProcessGroupGloo; faster or slower than MPI_Allreduce by machine
//    (BENCHMARKS.md). Built only where c10d's Gloo headers exist (Debian's LibTorch, not the 2.x
//    pip wheels). Rendezvous (parallel/endpoint.h): every rank sends rank 0 its host name and IPv4
//    interfaces over MPI; rank 0 picks one address per rank (loopback when all ranks share a host,
//    else the `gloo_interface` interface, else a network every host has an address on) and
//    broadcasts them, or the reason none fits, so every rank agrees or fails alike. Rank 0 then
//    serves a c10d::TCPStore on a free port (c10d listens on all addresses), every rank connects
//    to it at rank 0's chosen address within `rendezvous_timeout_s`, and each rank's Gloo device
//    binds its own chosen address. A rank that cannot connect stops every rank, each with a
//    message saying what was tried and why it was chosen.
//  - "mpi": MPI_Allreduce.
// Gloo and MPI reduce host memory: CUDA tensors are staged through a pinned host buffer (copy
// down, reduce, copy up), correct on any machine but slower than NCCL.
// "auto" picks nccl for CUDA tensors when built, else gloo when built, else mpi. With one rank,
// "auto", "gloo" and "mpi" do nothing; an explicit "nccl" still runs its collectives, so one
// GPU tests the real NCCL code.
// With `overlap` (the default), a backend that sums in the background (nccl on a side stream,
// gloo on CPU tensors) starts each bucket's all-reduce during backward, as soon as its
// gradients exist (parallel/overlapped_sum.h); mpi, and gloo staging CUDA tensors, sum every
// bucket after backward.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mpi/comm.h"

namespace pkd::parallel {

class RowSparseGradient;  // parallel/row_sparse.h

enum class Backend { kAuto, kGloo, kMpi, kNccl };
std::string backend_name(Backend b);
// The backends this build has, e.g. "mpi, gloo, nccl".
std::string built_backends();

struct ReduceConfig {
  std::string backend = "auto";      // auto | nccl | gloo | mpi
  double bucket_mb = 25;             // MiB of float32 per all-reduce call
  std::string gloo_interface;        // network interface for Gloo ("" = chosen, see above)
  double timeout_s = 300;            // a collective taking longer brings the job down
  double rendezvous_timeout_s = 60;  // to reach rank 0's TCPStore and meet the others in it
  bool overlap = true;               // buckets summed during backward where the backend can

  template <class V>
  void visit(V& v) {
    v.field("backend", backend,
            "gradient all-reduce: auto (nccl for CUDA tensors, else gloo, else mpi), nccl, gloo "
            "or mpi (gloo/mpi stage CUDA tensors through host memory)");
    v.field("bucket_mb", bucket_mb, "MiB of gradients per all-reduce call");
    v.field("gloo_interface", gloo_interface,
            "network interface for Gloo on every host, e.g. ib0 (\"\" = loopback on one host, "
            "else a network all hosts share)");
    v.field("timeout_s", timeout_s,
            "seconds a collective may take before the job is brought down (a rank died or hung)");
    v.field("rendezvous_timeout_s", rendezvous_timeout_s,
            "seconds a rank may take to reach rank 0's Gloo rendezvous store and find the other "
            "ranks there before it gives up");
    v.field("overlap", overlap,
            "start each bucket's all-reduce during backward, as soon as its gradients exist, "
            "where the backend sums in the background (nccl on a side stream, gloo on CPU "
            "tensors); false: after backward");
  }
  void validate() const;
  // The backend key parsed (validated); kAuto stays kAuto until a device is known.
  Backend kind() const;
};

// A sum over ranks started by GradientReducer::start_sum. wait() returns once the buffer holds
// the sum (at once for a backend that summed when it was started); it fails like any collective.
class PendingSum {
 public:
  PendingSum() = default;
  explicit PendingSum(std::function<void()> wait) : wait_(std::move(wait)) {}
  void wait() {
    if (!wait_) return;
    auto w = std::move(wait_);
    wait_ = nullptr;
    w();
  }

 private:
  std::function<void()> wait_;
};

class GradientReducer {
 public:
  // A reducer for tensors on `device` (all tensors of one call share it). Collective: every rank
  // calls it with the same config. Refuses, on every rank, a backend this build lacks or one that
  // cannot reduce tensors on `device`.
  static std::unique_ptr<GradientReducer> create(const ReduceConfig& config, mpi::Comm& comm,
                                                 torch::Device device = torch::kCPU);
  virtual ~GradientReducer() = default;

  // In place: every tensor becomes the sum (or the mean) over ranks. Tensors must be float32,
  // contiguous and on the reducer's device. Training sums gradients of losses already divided by
  // the global batch size, so that ranks holding unequal shares of a batch still give the exact
  // gradient.
  void allreduce_sum(const std::vector<torch::Tensor>& tensors) { reduce(tensors, 1.0); }
  void allreduce_mean(const std::vector<torch::Tensor>& tensors) {
    reduce(tensors, 1.0 / comm_.size());
  }
  // A training step's sums: every parameter's gradient (zeros where a rank has none) summed over
  // ranks in place; `sparse` (may be null), one of `params`, only in the rows some rank marked;
  // `extra` tensors (e.g. the step's loss sums) in the same collectives. Collective.
  void sum_gradients(const std::vector<torch::Tensor>& params, RowSparseGradient* sparse,
                     const std::vector<torch::Tensor>& extra);
  // In place: every rank gets rank 0's values (parameters at start).
  void broadcast(const std::vector<torch::Tensor>& tensors);
  virtual Backend backend() const = 0;
  // sum_gradients and broadcast do nothing: one rank, and a backend that does not run alone.
  bool idle() const { return comm_.size() == 1 && !runs_alone_; }
  // Whether training sums gradients of tensors on `device` during backward
  // (OverlappedGradientSum): parallel.overlap, not idle, and a backend that sums in the
  // background.
  bool overlaps_backward(torch::Device device) const {
    return overlap_ && !idle() && sums_in_background(device);
  }
  // Starts summing `flat` (contiguous float32 on the reducer's memory) over ranks in place; it
  // must not be touched until the result's wait(). Every rank starts the same sums in the same
  // order. Collective.
  virtual PendingSum start_sum(torch::Tensor& flat) {
    sum_flat(flat);
    return {};
  }
  // Waits for every sum started; NCCL polls for errors here.
  void wait_all() { finish(); }
  // MiB of float32 per all-reduce call (parallel.bucket_mb), in bytes.
  double bucket_bytes() const { return bucket_bytes_; }

 protected:
  GradientReducer(mpi::Comm& comm, double bucket_mb, bool device_native, bool runs_alone)
      : comm_(comm),
        bucket_bytes_(bucket_mb * 1024 * 1024),
        device_native_(device_native),
        runs_alone_(runs_alone) {}
  // Sums one flat float32 buffer over ranks, in place (on the device when device_native).
  virtual void sum_flat(torch::Tensor& flat) = 0;
  // Rank 0's values of one flat float32 buffer on every rank, in place.
  virtual void broadcast_flat(torch::Tensor& flat) = 0;
  // Called after the last collective of a call: waits for them (NCCL polls for errors there).
  virtual void finish() {}
  // start_sum returns before the sum is done, for tensors on `device`.
  virtual bool sums_in_background(torch::Device) const { return false; }

  mpi::Comm& comm_;

 private:
  // The backend `config` and `device` call for (see create).
  static std::unique_ptr<GradientReducer> create_backend(const ReduceConfig& config,
                                                         mpi::Comm& comm, torch::Device device);
  // Buckets the tensors, sums each bucket over ranks and multiplies it by `scale`.
  void reduce(const std::vector<torch::Tensor>& tensors, double scale);
  // Runs `op` on `flat`, through the pinned host buffer when `flat` is on a GPU and the backend
  // reduces host memory.
  template <class Op>
  void on_backend_memory(torch::Tensor& flat, Op op);

  double bucket_bytes_;
  bool device_native_;     // reduces tensors where they are (NCCL); else host memory only
  bool runs_alone_;        // runs its collectives with one rank too
  bool overlap_ = true;    // parallel.overlap
  torch::Tensor staging_;  // pinned host buffer (CUDA tensors, host backends)
};

}  // namespace pkd::parallel
