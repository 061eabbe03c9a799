#pragma once
// Dynamic loss scaling for float16 training, with torch.cuda.amp.GradScaler's semantics and
// defaults: the loss is multiplied by scale() before backward so that small float16 gradients do
// not flush to zero; a step whose gradients overflowed (inf/NaN) is skipped and the scale halved;
// after `growth_interval` finite steps in a row the scale doubles. Parameters stay float32
// (autocast), so the gradients are unscaled (multiplied by 1 / scale()) in the optimizer step.
// bfloat16 and float32 need none of this: the scaler is then inactive and scale() is 1.
#include <cstdint>

namespace pkd::train {

class LossScaler {
 public:
  explicit LossScaler(bool active, double init_scale = 65536.0, double growth_factor = 2.0,
                      double backoff_factor = 0.5, std::int64_t growth_interval = 2000)
      : active_(active),
        scale_(active ? init_scale : 1.0),
        growth_factor_(growth_factor),
        backoff_factor_(backoff_factor),
        growth_interval_(growth_interval) {}

  bool active() const { return active_; }
  double scale() const { return scale_; }
  // After the gradients of a step are summed over ranks (so every rank sees the same): returns
  // whether the optimizer step may be taken, and updates the scale.
  bool update(bool found_inf) {
    if (!active_) return true;
    if (found_inf) {
      scale_ *= backoff_factor_;
      growth_tracker_ = 0;
      return false;
    }
    if (++growth_tracker_ == growth_interval_) {
      scale_ *= growth_factor_;
      growth_tracker_ = 0;
    }
    return true;
  }
  // Checkpointed, so that a resumed run scales as the uninterrupted one would.
  std::int64_t growth_tracker() const { return growth_tracker_; }
  void restore(double scale, std::int64_t growth_tracker) {
    if (!active_) return;
    scale_ = scale;
    growth_tracker_ = growth_tracker;
  }
  std::int64_t skipped() const { return skipped_; }
  void count_skip() { ++skipped_; }

 private:
  bool active_;
  double scale_;
  double growth_factor_, backoff_factor_;
  std::int64_t growth_interval_;
  std::int64_t growth_tracker_ = 0;
  std::int64_t skipped_ = 0;
};

}  // namespace pkd::train
