#pragma once
// Distillation beyond [CLS] (TinyBERT, Jiao et al. 2020; MiniLM, Wang et al. 2020): every
// token's hidden state and the attention maps, compared per example over its real tokens only,
// so that dynamic padding and how a batch is split over ranks change nothing. Each function
// returns a SUM over the batch's examples of a per-example mean (as pkd_loss.h's terms): the
// trainer divides by the global batch size.
//   hidden_mse_sum:    mean over the example's tokens and hidden units of (s - t)^2, averaged
//                      over the compared layers. TinyBERT's hidden and embedding losses.
//   attention_mse_sum: mean over heads and the example's len x len (query, key) entries of
//                      (s - t)^2 of the probabilities, averaged over layers.
//   attention_kl_sum:  mean over heads and the example's len query rows of
//                      KL(t_row || s_row) = sum over keys t (log t - log s), averaged over
//                      layers. MiniLM's self-attention distribution transfer.
// Computed in float32 at least. mask: [B, T] attention mask (1 for tokens, 0 for padding).
#include <torch/torch.h>

#include <cstdint>

namespace pkd::distill {

// student, teacher: [layers, B, T, H].
torch::Tensor hidden_mse_sum(const torch::Tensor& student, const torch::Tensor& teacher,
                             const torch::Tensor& mask);
// student, teacher: [layers, B, heads, T, T] probabilities, 0 at padded keys.
torch::Tensor attention_mse_sum(const torch::Tensor& student, const torch::Tensor& teacher,
                                const torch::Tensor& mask);
// Student probabilities below 1e-12 count as 1e-12 (a key the student gives no weight at all
// would make the KL infinite); padded keys and queries contribute nothing.
torch::Tensor attention_kl_sum(const torch::Tensor& student, const torch::Tensor& teacher,
                               const torch::Tensor& mask);

// The learned linear maps from a narrower student's hidden size to the teacher's (TinyBERT's
// W_h): one shared by every compared layer, as TinyBERT does. Trained with the student
// (Objective::trainable), checkpointed, not exported.
class HiddenProjectionImpl : public torch::nn::Module {
 public:
  // Drawn like BERT's Linear layers: N(0, init_std), zero bias.
  HiddenProjectionImpl(std::int64_t student_hidden, std::int64_t teacher_hidden, double init_std);
  torch::Tensor forward(const torch::Tensor& x) { return projection(x); }

  torch::nn::Linear projection{nullptr};
};
TORCH_MODULE(HiddenProjection);

}  // namespace pkd::distill
