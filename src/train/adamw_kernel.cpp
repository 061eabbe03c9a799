// Compiled with -fno-math-errno (sqrt becomes one instruction, so the loop vectorises) and
// -ffp-contract=off (no FMA: the results stay bitwise those of the scalar loop and of torch's
// unfused AdamW); see CMakeLists.txt. Scalar, this loop was compute-bound at ~8 GB/s; vectorised
// it runs at memory speed (BENCHMARKS.md, "Optimizer update").
#include "train/adamw_kernel.h"

#include <cmath>

namespace pkd::train {

__attribute__((target_clones("avx512f", "avx2", "default"))) void adamw_update(
    float* __restrict p, const float* __restrict grad, float* __restrict m, float* __restrict v,
    std::int64_t begin, std::int64_t end, const AdamWScalars& s) {
  // Locals, not s.x: a store to p could otherwise alias the struct and stop vectorisation.
  const float step_size = s.step_size, beta1 = s.beta1, beta2 = s.beta2;
  const float one_minus_beta1 = s.one_minus_beta1, one_minus_beta2 = s.one_minus_beta2;
  const float eps = s.eps, c2 = s.bias_correction2_sqrt, decay = s.decay, scale = s.grad_scale;
  for (std::int64_t k = begin; k < end; ++k) {
    const float g = grad[k] * scale;  // g * 1.0f == g: no branch needed for "not clipped"
    const float param = p[k] * decay;
    const float mk = m[k] * beta1 + g * one_minus_beta1;
    const float vk = v[k] * beta2 + g * g * one_minus_beta2;
    m[k] = mk;
    v[k] = vk;
    p[k] = param - step_size * (mk / (std::sqrt(vk) / c2 + eps));
  }
}

}  // namespace pkd::train
