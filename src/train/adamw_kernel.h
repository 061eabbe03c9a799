#pragma once
// The CPU inner loop of the fused AdamW (optimizer.h), kept free of LibTorch so that it compiles
// fast and with its own flags: vectorised for AVX-512, AVX2 or baseline x86-64, chosen at run
// time, without changing one bit of torch.optim.AdamW's float arithmetic (no FMA contraction, the
// same operation order, IEEE division and square root).
#include <cstdint>

namespace pkd::train {

// The per-step scalars, in float as torch applies them to float tensors.
struct AdamWScalars {
  float step_size;  // lr / bias_correction1
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float eps;
  float bias_correction2_sqrt;
  float decay;       // 1 - lr * weight_decay
  float grad_scale;  // clipping factor (1: none)
};

// Updates elements [begin, end) of one parameter in place, with g = grad * grad_scale:
//   p = p * decay;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;
//   p = p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
void adamw_update(float* p, const float* grad, float* m, float* v, std::int64_t begin,
                  std::int64_t end, const AdamWScalars& s);

}  // namespace pkd::train
