#pragma once
// The gradient sum of a training step overlapped with its backward, as PyTorch's DDP does it:
// the dense parameters are laid out in buckets of about parallel.bucket_mb in reverse order
// (the order backward produces their gradients, last layer first), a hook on each parameter
// copies its gradient into its bucket's flat buffer as autograd hands it over, and a bucket
// whose gradients are all there starts its all-reduce at once, in the background
// (GradientReducer::start_sum), while backward goes on with the layers below. Buckets start in
// bucket order on every rank, so the ranks' collectives match whatever order their hooks ran
// in. After backward, finish() starts the buckets still waiting (a gradient a rank never got,
// e.g. a rank without examples in the step, counts as zeros), then sums the token-indexed rows
// and the step's extra tensors (sum_gradients' sparse part), waits for everything and writes the
// sums into the gradients.
//
// The result equals GradientReducer::sum_gradients element by element: each element is the
// same sum over ranks (with 2 ranks bitwise; with more, the collective's reduction order within
// a bucket may differ in the last bit, as with another bucket_mb).
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "parallel/gradient_reducer.h"
#include "parallel/row_sparse.h"

namespace pkd::parallel {

class OverlappedGradientSum {
 public:
  // `params` (their order as given, each with requires_grad), except `sparse`'s parameter, get a
  // gradient hook for the lifetime of this object; `reducer` must overlap (overlaps_backward).
  OverlappedGradientSum(GradientReducer& reducer, mpi::Comm& comm,
                        const std::vector<torch::Tensor>& params, const RowSparseGradient* sparse);
  ~OverlappedGradientSum();
  OverlappedGradientSum(const OverlappedGradientSum&) = delete;
  OverlappedGradientSum& operator=(const OverlappedGradientSum&) = delete;

  // The next backward is the step's last (its gradients are final): buckets start as their
  // gradients arrive. Earlier micro-batches' backwards accumulate as usual.
  void arm() { armed_ = true; }
  // After the step's backwards: the sums of every parameter's gradient over ranks, in place
  // (gradients a rank lacks as zeros), `sparse` (may be null) only in the rows some rank marked,
  // and `extra` (e.g. the step's loss sums) in the last collective. Collective.
  void finish(RowSparseGradient* sparse, const std::vector<torch::Tensor>& extra);
  // Buckets of the last finished step started during backward, and all buckets.
  std::size_t started_in_backward() const { return started_in_backward_; }
  std::size_t buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // indices into params_
    std::int64_t numel = 0;
    torch::Tensor flat;       // float32, on the parameters' device
    std::size_t waiting = 0;  // members whose gradient has not arrived
    PendingSum sum;
  };
  // Hook: parameter `i`'s gradient of the armed backward (before autograd accumulates it).
  void arrived(std::size_t i, const torch::Tensor& grad);

  GradientReducer& reducer_;
  mpi::Comm& comm_;
  std::vector<torch::Tensor> params_;
  std::vector<unsigned> hooks_;        // hook handle of each of params_
  std::vector<std::size_t> bucket_;    // bucket of each of params_
  std::vector<std::int64_t> offset_;   // of each of params_ in its bucket's flat buffer
  std::vector<std::uint8_t> arrived_;  // of each of params_, in the armed backward
  std::vector<Bucket> buckets_;
  std::size_t next_ = 0;  // the first bucket not started
  bool armed_ = false;
  std::size_t started_in_backward_ = 0;
};

}  // namespace pkd::parallel
