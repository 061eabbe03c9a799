#include "distill/pkd_objective.h"

#include <torch/torch.h>

namespace pkd::distill {

PkdObjective::PkdObjective(const PkdLossConfig& loss, bool regression, const Teacher& teacher,
                           model::BertForSequenceClassification online_teacher)
    : loss_(loss, regression),
      pt_(teacher.used && loss.beta > 0),
      teacher_layers_(teacher.layers),
      features_(teacher.features),
      inputs_(teacher.inputs),
      online_teacher_(std::move(online_teacher)) {}

train::LossSums PkdObjective::loss(model::BertForSequenceClassification& student,
                                   const data::Batch& b) {
  const auto hidden = pt_ ? model::HiddenStates::cls : model::HiddenStates::none;
  torch::Tensor t_logits = b.teacher_logits, t_cls = b.teacher_cls;
  if (online_teacher_) {
    torch::NoGradGuard no_grad;
    auto out = online_teacher_(b.input_ids, b.token_type_ids, b.attention_mask, hidden);
    t_logits = out.logits.to(torch::kFloat);
    if (pt_) t_cls = model::cls_rows(out, teacher_layers_);
  }
  auto out = student(b.input_ids, b.token_type_ids, b.attention_mask, hidden);
  torch::Tensor s_cls;
  if (pt_) {
    std::vector<std::int64_t> rows;  // the student's layers 1..k-1
    for (std::size_t j = 1; j + 1 < out.hidden_states.size(); ++j)
      rows.push_back(static_cast<std::int64_t>(j));
    if (!rows.empty()) s_cls = model::cls_rows(out, rows);
  }
  auto sums = loss_(out.logits.to(torch::kFloat), b.labels, t_logits, s_cls, t_cls);
  return {sums.total, {sums.ce.detach(), sums.kd.detach(), sums.pt.detach()}};
}

}  // namespace pkd::distill
