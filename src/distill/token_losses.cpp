#include "distill/token_losses.h"

namespace pkd::distill {
namespace {

torch::Tensor at_least_float(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
}

// Real tokens per example, [B], in `like`'s dtype.
torch::Tensor lengths(const torch::Tensor& mask, const torch::Tensor& like) {
  return mask.to(like.dtype()).sum(-1);
}

// The (query, key) pairs of real tokens, [B, 1, T, T] in `like`'s dtype.
torch::Tensor token_pairs(const torch::Tensor& mask, const torch::Tensor& like) {
  const auto m = mask.to(like.dtype());
  return (m.unsqueeze(-1) * m.unsqueeze(-2)).unsqueeze(1);
}

}  // namespace

torch::Tensor hidden_mse_sum(const torch::Tensor& student, const torch::Tensor& teacher,
                             const torch::Tensor& mask) {
  const auto s = at_least_float(student);
  const auto t = teacher.to(s.dtype());
  const auto m = mask.to(s.dtype());                  // [B, T]
  const auto per_token = (s - t).pow(2).sum(-1) * m;  // [layers, B, T]
  const auto per_example = per_token.sum(-1) / (lengths(mask, s) * static_cast<double>(s.size(-1)));
  return per_example.mean(0).sum();
}

torch::Tensor attention_mse_sum(const torch::Tensor& student, const torch::Tensor& teacher,
                                const torch::Tensor& mask) {
  const auto s = at_least_float(student);
  const auto squares = (s - teacher.to(s.dtype())).pow(2) * token_pairs(mask, s);
  const auto len = lengths(mask, s);
  // Summed per example over heads and pairs: [layers, B].
  return (squares.sum({-3, -2, -1}) / (len * len * static_cast<double>(s.size(2)))).mean(0).sum();
}

torch::Tensor attention_kl_sum(const torch::Tensor& student, const torch::Tensor& teacher,
                               const torch::Tensor& mask) {
  const auto s = at_least_float(student);
  const auto t = teacher.to(s.dtype());
  // t log t is 0 where t is 0 (xlogy); the clamp keeps padded keys (s = 0, t = 0) finite and
  // their gradient zero.
  const auto kl = (torch::xlogy(t, t) - t * s.clamp_min(1e-12).log()) * token_pairs(mask, s);
  const auto rows = lengths(mask, s) * static_cast<double>(s.size(2));  // query rows x heads
  return (kl.sum({-3, -2, -1}) / rows).mean(0).sum();
}

HiddenProjectionImpl::HiddenProjectionImpl(std::int64_t student_hidden, std::int64_t teacher_hidden,
                                           double init_std) {
  projection = register_module("projection", torch::nn::Linear(student_hidden, teacher_hidden));
  torch::NoGradGuard no_grad;
  projection->weight.normal_(0.0, init_std);
  projection->bias.zero_();
}

}  // namespace pkd::distill
