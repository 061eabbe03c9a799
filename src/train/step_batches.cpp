// The loader thread of the trainer (see step_batches.h).
#include "train/step_batches.h"

#include "core/error.h"
#include "model/runtime.h"

namespace pkd::train {
namespace {

// Elements [part * n / parts, (part + 1) * n / parts) of `v`: shares that differ by at most one.
std::vector<std::int64_t> share(const std::vector<std::int64_t>& v, std::size_t part,
                                std::size_t parts) {
  const std::size_t n = v.size();
  return {v.begin() + static_cast<long>(part * n / parts),
          v.begin() + static_cast<long>((part + 1) * n / parts)};
}

void pin(data::Batch& b) {
  for (torch::Tensor* t : b.tensors())
    if (t->defined()) *t = t->pin_memory();
}

}  // namespace

StepBatches::StepBatches(const data::DistributedBatchSampler& sampler,
                         const data::SplitIndex& index, data::FeatureRequest features,
                         Options options)
    : sampler_(sampler),
      loader_(index, std::move(features), /*require_labels=*/true),
      options_(options) {}

StepBatches::~StepBatches() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StepBatches::start(StepPosition from, std::int64_t steps) {
  next_ = from;
  left_ = steps;
  if (options_.ahead > 0 && steps > 0) thread_ = std::thread([this] { run(); });
}

StepPosition StepBatches::after(StepPosition p) const {
  return p.step_in_epoch + 1 < sampler_.steps_per_epoch(p.epoch)
             ? StepPosition{p.epoch, p.step_in_epoch + 1}
             : StepPosition{p.epoch + 1, 0};
}

StepInput StepBatches::make(StepPosition at) {
  StepInput in;
  in.at = at;
  try {
    const auto global = sampler_.global_batch(at.epoch, at.step_in_epoch);
    in.global_examples = static_cast<std::int64_t>(global.size());
    loader_.load(sampler_.window_shards(at.epoch, at.step_in_epoch));  // a no-op once loaded
    for (std::size_t j = 0; j < options_.micro_batches; ++j) {
      const auto local =
          share(share(global, j, options_.micro_batches), static_cast<std::size_t>(options_.rank),
                static_cast<std::size_t>(options_.ranks));
      if (local.empty()) {
        in.micro.emplace_back();
        continue;
      }
      data::Batch b = loader_.collate(local);
      if (options_.pin_for.is_cuda()) pin(b);
      in.micro.emplace_back(std::move(b));
    }
  } catch (...) {
    in.error = std::current_exception();
  }
  return in;
}

void StepBatches::run() {
  model::make_current(options_.pin_for);  // the CUDA runtime's current device is per thread
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // Work: a step to make, or, with the queue full, the next step's window to read (the
    // queued batches are copies: the current window is no longer needed).
    changed_.wait(lock, [&] {
      return stop_ || (pauses_ == 0 && left_ > 0 &&
                       (ready_.size() < static_cast<std::size_t>(options_.ahead) ||
                        !(window_read_for_ == next_)));
    });
    if (stop_) return;
    const StepPosition at = next_;
    const bool make_step = ready_.size() < static_cast<std::size_t>(options_.ahead);
    busy_ = true;
    lock.unlock();
    if (!make_step) {
      window_read_for_ = at;
      try {
        loader_.load(sampler_.window_shards(at.epoch, at.step_in_epoch));
      } catch (...) {
        // Reported by make(), which reads it again, in the trainer's order.
      }
      lock.lock();
      busy_ = false;
      changed_.notify_all();
      continue;
    }
    StepInput in = make(at);
    const bool failed = static_cast<bool>(in.error);
    lock.lock();
    busy_ = false;
    ready_.push_back(std::move(in));
    next_ = after(at);
    --left_;
    changed_.notify_all();
    if (failed) return;  // the trainer's thread rethrows it
  }
}

StepInput StepBatches::take(StepPosition at) {
  StepInput in;
  if (options_.ahead == 0) {
    if (left_ <= 0 || !(at == next_))
      fail("internal: the trainer asked for epoch ", at.epoch + 1, " step ", at.step_in_epoch,
           ", the loader has ", left_, " steps from epoch ", next_.epoch + 1, " step ",
           next_.step_in_epoch);
    in = make(at);
    next_ = after(at);
    --left_;
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    if (ready_.empty() && left_ <= 0)
      fail("internal: the trainer asked for epoch ", at.epoch + 1, " step ", at.step_in_epoch,
           " after the last step the loader was to make");
    changed_.wait(lock, [&] { return !ready_.empty(); });
    in = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
  }
  if (in.error) std::rethrow_exception(in.error);
  if (!(in.at == at))
    fail("internal: the trainer asked for epoch ", at.epoch + 1, " step ", at.step_in_epoch,
         ", the loader made epoch ", in.at.epoch + 1, " step ", in.at.step_in_epoch);
  return in;
}

StepBatches::Pause::Pause(StepBatches& b) : b_(b) {
  std::unique_lock<std::mutex> lock(b_.mutex_);
  ++b_.pauses_;
  b_.changed_.wait(lock, [&] { return !b_.busy_; });
}

StepBatches::Pause::~Pause() {
  {
    std::lock_guard<std::mutex> lock(b_.mutex_);
    --b_.pauses_;
  }
  b_.changed_.notify_all();
}

}  // namespace pkd::train
