#pragma once
// What a training run optimises: the seam between the trainer core (which owns precision,
// device moves, gradient sums, the optimizer, checkpoints and evaluation) and a command (which
// builds a model and an objective). Fine-tuning is one objective (TaskObjective), PKD another
// (distill/pkd_objective.h).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/batching.h"
#include "data/stream.h"
#include "model/bert.h"

namespace pkd::train {

// What an objective returns for one micro-batch on one rank.
struct LossSums {
  torch::Tensor total;               // the loss summed over the batch's examples (with its graph)
  std::vector<torch::Tensor> parts;  // the named parts, summed over the examples (detached)
};

class Objective {
 public:
  virtual ~Objective() = default;
  // Names the run's objective in logs ("fine-tuning", "PKD").
  virtual std::string name() const = 0;
  // Names of LossSums::parts, e.g. {"ce", "kd", "pt"}: progress lines, metrics.jsonl.
  virtual std::vector<std::string> part_names() const { return {}; }
  // Teacher features every training batch carries (dir "" = none).
  virtual data::FeatureRequest features() const { return {}; }
  // Content digests of what the objective reads besides the training split (a teacher, its
  // features), by name: part of the run's identity, so a resume refuses other ones.
  virtual std::map<std::string, std::string> inputs() const { return {}; }
  // The objective's own trained parameters (distillation's learned projections from the
  // student's width to the teacher's), or nullptr. The trainer trains them with the model: moves
  // them to the device and puts them in the optimizer, the gradient sums, the clipping and the
  // checkpoints (objective.safetensors); they are not part of the exported model.
  virtual std::shared_ptr<torch::nn::Module> trainable() { return nullptr; }
  // The loss sums of `batch` (on the runtime's device) for `model` in train mode. The trainer
  // calls it inside the runtime's autocast scope: an objective decides no precision of its own.
  virtual LossSums loss(model::BertForSequenceClassification& model, const data::Batch& batch) = 0;
};

// The task's own loss summed over the batch: cross-entropy to the gold labels, or for
// regression (one output, STS-B) the squared error to the gold scores; in float32 at least.
torch::Tensor task_loss_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                            bool regression);

// Fine-tuning: the task loss alone.
class TaskObjective : public Objective {
 public:
  explicit TaskObjective(bool regression) : regression_(regression) {}
  std::string name() const override { return "fine-tuning"; }
  LossSums loss(model::BertForSequenceClassification& model, const data::Batch& batch) override;

 private:
  bool regression_;
};

}  // namespace pkd::train
