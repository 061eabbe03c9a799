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

// student_cls: the student's [CLS] vectors of layers 1..k-1, [B, H] each; teacher_cls: the
// mapped teacher vectors [k-1, B, H]. teacher_logits / teacher_cls may be undefined when the
// weight of their term is 0.
PkdLossSums pkd_loss_sums(const torch::Tensor& student_logits, const torch::Tensor& labels,
                          const torch::Tensor& teacher_logits,
                          const std::vector<torch::Tensor>& student_cls,
                          const torch::Tensor& teacher_cls, bool regression,
                          const PkdLossConfig& config);

}  // namespace pkd::distill
