#pragma once
// The Patient Knowledge Distillation loss (Sun et al., 2019, eq. 7), the paper's convention:
//   L = (1 - alpha) * L_CE + alpha * L_KD + beta * L_PT
// L_CE: cross-entropy to the gold labels (MSE for regression, STS-B).
// L_KD: KL(softmax(t/T) || softmax(s/T)), times T^2 unless switched off; "batchmean" (the seed)
//       averages over examples, "elementwise_mean" (the official code) also over classes. For
//       regression (one output) KD is the squared error to the teacher's prediction (a softmax
//       over one logit is constant: the seed's KD term was always zero).
// L_PT: mean squared distance between the (L2-normalised, switchable) [CLS] vectors of student
//       layers 1..k-1 and their mapped teacher layers, averaged over layers and hidden units.
// The functions return per-batch SUMS over examples (each term is a mean over examples times
// the batch size): the trainer divides by the global batch size, so ranks holding unequal
// shares of a batch give the exact global-batch mean.
#include <torch/types.h>

#include <string>
#include <vector>

#include "distill/distill_config.h"

namespace pkd::distill {

struct PkdLossSums {
  torch::Tensor total, ce, kd, pt;  // scalars; total carries the graph
};

// The loss of one configuration, its options parsed once (here, not per batch).
class PkdLoss {
 public:
  // `config` must be valid (PkdLossConfig::validate); `regression`: one output (STS-B).
  PkdLoss(const PkdLossConfig& config, bool regression);
  // student_cls: the student's [CLS] vectors of layers 1..k-1, [k-1, B, H]; teacher_cls: the
  // mapped teacher vectors, same shape. teacher_logits / the [CLS] tensors may be undefined when
  // the weight of their term is 0. Computed in the dtype of student_logits.
  PkdLossSums operator()(const torch::Tensor& student_logits, const torch::Tensor& labels,
                         const torch::Tensor& teacher_logits, const torch::Tensor& student_cls,
                         const torch::Tensor& teacher_cls) const;

 private:
  double alpha_, beta_, temperature_;
  KdReduction reduction_;
  bool t_squared_, normalize_, regression_;
};

}  // namespace pkd::distill
