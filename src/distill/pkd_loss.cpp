#include "distill/pkd_loss.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "train/objective.h"

namespace pkd::distill {

namespace F = torch::nn::functional;

void PkdLossConfig::validate() const {
  // Written so that NaN fails every check (a config built in code skips the reader's check).
  if (!(alpha >= 0 && alpha <= 1)) usage_fail("distill.loss.alpha must be in [0, 1], got ", alpha);
  if (!(beta >= 0 && std::isfinite(beta)))
    usage_fail("distill.loss.beta must be a finite number >= 0, got ", beta);
  if (!(temperature > 0 && std::isfinite(temperature)))
    usage_fail("distill.loss.temperature must be a finite number > 0, got ", temperature);
  for (const auto& [key, w] : {std::pair<const char*, double>{"hidden_weight", hidden_weight},
                               {"embedding_weight", embedding_weight},
                               {"attention_weight", attention_weight}})
    if (!(w >= 0 && std::isfinite(w)))
      usage_fail("distill.loss.", key, " must be a finite number >= 0, got ", w);
  reduction();
  attention();
}

AttentionLoss PkdLossConfig::attention() const {
  if (attention_loss == "mse") return AttentionLoss::kMse;
  if (attention_loss == "kl") return AttentionLoss::kKl;
  usage_fail("distill.loss.attention_loss must be mse or kl, got '", attention_loss, "'");
}

KdReduction PkdLossConfig::reduction() const {
  if (kd_reduction == "batchmean") return KdReduction::kBatchMean;
  if (kd_reduction == "elementwise_mean") return KdReduction::kElementwiseMean;
  usage_fail("distill.loss.kd_reduction must be batchmean or elementwise_mean, got '", kd_reduction,
             "'");
}

PkdLoss::PkdLoss(const PkdLossConfig& c, bool regression)
    : alpha_(c.alpha),
      beta_(c.beta),
      temperature_(c.temperature),
      reduction_(c.reduction()),
      t_squared_(c.kd_t_squared),
      normalize_(c.pt_normalize),
      regression_(regression) {}

PkdLossSums PkdLoss::operator()(const torch::Tensor& s, const torch::Tensor& labels,
                                const torch::Tensor& t, const torch::Tensor& student_cls,
                                const torch::Tensor& teacher_cls) const {
  PkdLossSums out;
  const auto zero = torch::zeros({}, s.options());
  out.ce = train::task_loss_sum(s, labels, regression_);
  out.kd = zero;
  if (alpha_ > 0) {
    const auto teacher = t.to(s.dtype());
    if (regression_) {
      out.kd = (s - teacher).pow(2).sum();
    } else {
      const double T = temperature_;
      // KL(p_t || p_s) summed over classes and examples: sum p_t * (log p_t - log p_s).
      const auto log_ps = torch::log_softmax(s / T, -1);
      const auto log_pt = torch::log_softmax(teacher / T, -1);
      out.kd = (log_pt.exp() * (log_pt - log_ps)).sum();
      if (reduction_ == KdReduction::kElementwiseMean)
        out.kd = out.kd / static_cast<double>(s.size(-1));
      if (t_squared_) out.kd = out.kd * (T * T);
    }
  }
  out.pt = zero;
  if (beta_ > 0 && student_cls.defined() && student_cls.size(0) > 0) {
    auto student = student_cls.to(s.dtype());  // [k-1, B, H]
    auto teacher = teacher_cls.to(s.dtype());
    if (normalize_) {
      student = F::normalize(student, F::NormalizeFuncOptions().p(2).dim(-1));
      teacher = F::normalize(teacher, F::NormalizeFuncOptions().p(2).dim(-1));
    }
    // Mean over layers and hidden units, summed over examples.
    out.pt =
        (student - teacher).pow(2).sum() / static_cast<double>(student.size(0) * student.size(2));
  }
  out.total = (1 - alpha_) * out.ce + alpha_ * out.kd + beta_ * out.pt;
  return out;
}

}  // namespace pkd::distill
