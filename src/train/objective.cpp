#include "train/objective.h"

#include <torch/torch.h>

namespace pkd::train {

torch::Tensor task_loss_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                            bool regression) {
  namespace F = torch::nn::functional;
  // At least float32 whatever the autocast precision of the forward (float32 and float64 stay).
  const bool reduced =
      logits.scalar_type() != torch::kFloat && logits.scalar_type() != torch::kDouble;
  const auto x = reduced ? logits.to(torch::kFloat) : logits;
  if (regression) return torch::mse_loss(x.squeeze(-1), labels.to(x.dtype()), at::Reduction::Sum);
  return F::cross_entropy(x, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum));
}

LossSums TaskObjective::loss(model::BertForSequenceClassification& model, const data::Batch& b) {
  const auto logits = model(b.input_ids, b.token_type_ids, b.attention_mask).logits;
  return {task_loss_sum(logits, b.labels, regression_), {}};
}

}  // namespace pkd::train
