#include "distill/pkd_objective.h"

#include <torch/torch.h>

#include <algorithm>


namespace pkd::distill {
namespace {

// The positions of `layers` within `held` (empty when `held` is: the term is off).
torch::Tensor positions(const std::vector<std::int64_t>& held,
                        const std::vector<std::int64_t>& layers) {
  std::vector<std::int64_t> index;
  for (auto l : layers) {
    const auto it = std::find(held.begin(), held.end(), l);
    if (it != held.end()) index.push_back(it - held.begin());
  }
  return torch::tensor(index, torch::kLong);
}

}  // namespace

PkdObjective::PkdObjective(const PkdLossConfig& loss, bool regression, const Teacher& teacher,
                           const model::BertConfig& student,
                           model::BertForSequenceClassification online_teacher)
    : config_(loss),
      loss_(loss, regression),
      attention_loss_(loss.attention()),
      pt_(teacher.used && loss.beta > 0),
      teacher_layers_(teacher.layers),
      token_layers_(teacher.token_layers),
      features_(teacher.features),
      inputs_(teacher.inputs),
      hidden_rows_{positions(features_.tokens.hidden, token_layers_)},
      embedding_row_{positions(features_.tokens.hidden, {0})},
      attention_rows_{positions(features_.tokens.attention, token_layers_)},
      online_teacher_(std::move(online_teacher)) {
  if (teacher.used && loss.compares_hidden() && student.hidden_size != teacher.hidden)
    projection_ = HiddenProjection(student.hidden_size, teacher.hidden, student.initializer_range);
}

std::vector<std::string> PkdObjective::part_names() const {
  std::vector<std::string> names{"ce", "kd", "pt"};
  if (config_.hidden_weight > 0) names.push_back("hidden");
  if (config_.embedding_weight > 0) names.push_back("embedding");
  if (config_.attention_weight > 0) names.push_back("attention");
  return names;
}

torch::Tensor PkdObjective::Rows::of(const torch::Tensor& t) {
  if (index.device() != t.device()) index = index.to(t.device());
  return t.index_select(0, index);
}

PkdObjective::TeacherOutputs PkdObjective::teacher_outputs(const data::Batch& b,
                                                           model::HiddenStates mode) {
  if (!online_teacher_)
    return {b.teacher_logits, b.teacher_cls, b.teacher_hidden, b.teacher_attention};
  torch::NoGradGuard no_grad;
  const bool attention = !features_.tokens.attention.empty();
  auto out = online_teacher_(b.input_ids, b.token_type_ids, b.attention_mask, mode, attention);
  TeacherOutputs t;
  t.logits = out.logits.to(torch::kFloat);
  if (pt_) t.cls = model::cls_rows(out, teacher_layers_);
  // Padding zeroed, as the cache's collated batches are.
  const auto mask = b.attention_mask.to(torch::kFloat);
  if (!features_.tokens.hidden.empty()) {
    std::vector<torch::Tensor> rows;
    for (auto l : features_.tokens.hidden)
      rows.push_back(out.hidden_states[static_cast<std::size_t>(l)].to(torch::kFloat) *
                     mask.unsqueeze(-1));
    t.hidden = torch::stack(rows);
  }
  if (attention) {
    std::vector<torch::Tensor> maps;
    const auto pairs = (mask.unsqueeze(-1) * mask.unsqueeze(-2)).unsqueeze(1);
    for (auto l : features_.tokens.attention)
      maps.push_back(out.attentions[static_cast<std::size_t>(l - 1)].to(torch::kFloat) * pairs);
    t.attention = torch::stack(maps);
  }
  return t;
}

train::LossSums PkdObjective::loss(model::BertForSequenceClassification& student,
                                   const data::Batch& b) {
  const bool tokens = config_.hidden_weight > 0 || config_.embedding_weight > 0;
  const bool attention = config_.attention_weight > 0;
  const auto mode = tokens ? model::HiddenStates::all
                           : (pt_ ? model::HiddenStates::cls : model::HiddenStates::none);
  const TeacherOutputs t = teacher_outputs(b, mode);
  auto out = student(b.input_ids, b.token_type_ids, b.attention_mask, mode, attention);
  auto project = [&](const torch::Tensor& x) {
    return projection_ ? projection_(x.to(projection_->projection->weight.dtype())) : x;
  };
  torch::Tensor s_cls;
  if (pt_) {
    std::vector<std::int64_t> rows;  // the student's layers 1..k-1
    for (std::size_t j = 1; j + 1 < out.hidden_states.size(); ++j)
      rows.push_back(static_cast<std::int64_t>(j));
    if (!rows.empty()) s_cls = project(model::cls_rows(out, rows));
  }
  auto sums = loss_(out.logits.to(torch::kFloat), b.labels, t.logits, s_cls, t.cls);
  torch::Tensor total = sums.total;
  std::vector<torch::Tensor> parts{sums.ce.detach(), sums.kd.detach(), sums.pt.detach()};
  auto add = [&](double weight, const torch::Tensor& value) {
    total = total + weight * value;
    parts.push_back(value.detach());
  };
  const auto& mask = b.attention_mask;
  const auto k = static_cast<std::int64_t>(token_layers_.size());  // student layers 1..k
  if (config_.hidden_weight > 0) {
    std::vector<torch::Tensor> rows;
    for (std::int64_t j = 1; j <= k; ++j)
      rows.push_back(project(out.hidden_states[static_cast<std::size_t>(j)]));
    add(config_.hidden_weight, hidden_mse_sum(torch::stack(rows), hidden_rows_.of(t.hidden), mask));
  }
  if (config_.embedding_weight > 0)
    add(config_.embedding_weight, hidden_mse_sum(project(out.hidden_states[0]).unsqueeze(0),
                                                 embedding_row_.of(t.hidden), mask));
  if (attention) {
    const auto s_maps = torch::stack(out.attentions);  // student layers 1..k
    const auto t_maps = attention_rows_.of(t.attention);
    add(config_.attention_weight, attention_loss_ == AttentionLoss::kKl
                                      ? attention_kl_sum(s_maps, t_maps, mask)
                                      : attention_mse_sum(s_maps, t_maps, mask));
  }
  return {total, parts};
}

}  // namespace pkd::distill
