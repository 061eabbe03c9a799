#include "distill/pkd_loss.h"

#include <torch/torch.h>

#include "core/error.h"

namespace pkd::distill {

namespace F = torch::nn::functional;

void PkdLossConfig::validate() const {
  if (alpha < 0 || alpha > 1) usage_fail("distill.loss.alpha must be in [0, 1], got ", alpha);
  if (beta < 0) usage_fail("distill.loss.beta must be >= 0, got ", beta);
  if (temperature <= 0) usage_fail("distill.loss.temperature must be positive, got ", temperature);
  reduction();
}

KdReduction PkdLossConfig::reduction() const {
  if (kd_reduction == "batchmean") return KdReduction::kBatchMean;
  if (kd_reduction == "elementwise_mean") return KdReduction::kElementwiseMean;
  usage_fail("distill.loss.kd_reduction must be batchmean or elementwise_mean, got '", kd_reduction,
             "'");
}

PkdLossSums pkd_loss_sums(const torch::Tensor& s, const torch::Tensor& labels,
                          const torch::Tensor& t, const std::vector<torch::Tensor>& student_cls,
                          const torch::Tensor& teacher_cls, bool regression,
                          const PkdLossConfig& c) {
  PkdLossSums out;
  const auto zero = torch::zeros({}, s.options());
  out.ce = regression
               ? torch::mse_loss(s.squeeze(-1), labels.to(s.dtype()), at::Reduction::Sum)
               : F::cross_entropy(s, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum));
  out.kd = zero;
  if (c.alpha > 0) {
    const auto teacher = t.to(s.dtype());
    if (regression) {
      out.kd = (s - teacher).pow(2).sum();
    } else {
      const double T = c.temperature;
      // KL(p_t || p_s) summed over classes and examples: sum p_t * (log p_t - log p_s).
      const auto log_ps = torch::log_softmax(s / T, -1);
      const auto log_pt = torch::log_softmax(teacher / T, -1);
      out.kd = (log_pt.exp() * (log_pt - log_ps)).sum();
      if (c.kd_reduction == "elementwise_mean") out.kd = out.kd / static_cast<double>(s.size(-1));
      if (c.kd_t_squared) out.kd = out.kd * (T * T);
    }
  }
  out.pt = zero;
  if (c.beta > 0 && !student_cls.empty()) {
    auto student = torch::stack(student_cls);  // [k-1, B, H]
    auto teacher = teacher_cls.to(student.dtype());
    if (c.pt_normalize) {
      student = F::normalize(student, F::NormalizeFuncOptions().p(2).dim(-1));
      teacher = F::normalize(teacher, F::NormalizeFuncOptions().p(2).dim(-1));
    }
    // Mean over layers and hidden units, summed over examples.
    out.pt =
        (student - teacher).pow(2).sum() / static_cast<double>(student.size(0) * student.size(2));
  }
  out.total = (1 - c.alpha) * out.ce + c.alpha * out.kd + c.beta * out.pt;
  return out;
}

}  // namespace pkd::distill
