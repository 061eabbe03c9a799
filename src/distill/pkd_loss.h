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

namespace pkd::distill {

struct PkdLossConfig {
  double alpha = 0.5;       // weight of the soft (KD) loss; 1 - alpha weighs the hard loss
  double beta = 100;        // weight of the patient (PT) loss
  double temperature = 10;  // T of the softmaxes
  std::string kd_reduction = "batchmean";  // batchmean | elementwise_mean
  bool kd_t_squared = true;        // multiply KD by T^2 (keeps its gradient scale independent of T)
  bool pt_normalize = true;        // L2-normalise [CLS] vectors before the PT distance
  std::string layer_map = "skip";  // skip | last | "2,4,6,8,10" (docs: distill/layer_map.h)

  template <class V>
  void visit(V& v) {
    v.field("alpha", alpha, "weight of the KD loss (1 - alpha: the cross-entropy); 0 = no KD");
    v.field("beta", beta, "weight of the patient loss over intermediate [CLS] vectors; 0 = off");
    v.field("temperature", temperature, "softmax temperature T of the KD loss");
    v.field(
        "kd_reduction", kd_reduction,
        "batchmean (KL per example, the seed) or elementwise_mean (also / classes, official code)");
    v.field("kd_t_squared", kd_t_squared, "multiply the KD loss by T^2");
    v.field("pt_normalize", pt_normalize, "L2-normalise [CLS] vectors before the patient loss");
    v.field("layer_map", layer_map,
            "teacher layers for student layers 1..k-1: skip, last, or a list like \"2,4,6,8,10\"");
  }
  void validate() const;
  bool needs_teacher() const { return alpha > 0 || beta > 0; }
};

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
