#pragma once
// Distillation as a training objective. PKD (Sun et al., 2019):
//   L = (1 - alpha) CE + alpha KD(T) + beta PT
// on each batch, and beyond [CLS] (token_losses.h), each term weighted and off at weight 0:
//   + hidden_weight HID + embedding_weight EMB + attention_weight ATT
// The teacher's outputs are read from the batch (cached features) or computed by the online
// teacher in the same autocast scope as the student. A student narrower than the teacher
// compares hidden states ([CLS] or every token's) through one learned projection
// (HiddenProjection), which the trainer trains with it (Objective::trainable).
#include "distill/pkd_loss.h"
#include "distill/teacher.h"
#include "distill/token_losses.h"
#include "train/objective.h"

namespace pkd::distill {

class PkdObjective : public train::Objective {
 public:
  // `student` is the student's config (its width decides the projection; its initializer_range
  // draws it). `online_teacher` is null unless teacher.online.
  PkdObjective(const PkdLossConfig& loss, bool regression, const Teacher& teacher,
               const model::BertConfig& student,
               model::BertForSequenceClassification online_teacher);
  std::string name() const override { return "PKD"; }
  // ce, kd, pt, then hidden, embedding and attention when their weight is not 0.
  std::vector<std::string> part_names() const override;
  data::FeatureRequest features() const override { return features_; }
  std::map<std::string, std::string> inputs() const override { return inputs_; }
  std::shared_ptr<torch::nn::Module> trainable() override {
    return projection_ ? projection_.ptr() : nullptr;
  }
  train::LossSums loss(model::BertForSequenceClassification& student,
                       const data::Batch& batch) override;

 private:
  // The teacher's token-level outputs in the layout of cached batches: hidden rows
  // features_.tokens.hidden, attention layers features_.tokens.attention.
  struct TeacherOutputs {
    torch::Tensor logits, cls, hidden, attention;
  };
  TeacherOutputs teacher_outputs(const data::Batch& b, model::HiddenStates mode);
  // The rows of a teacher tensor that hold given layers, found once: an index kept on the device
  // of its last use (one copy per run, not per step).
  struct Rows {
    torch::Tensor index;
    torch::Tensor of(const torch::Tensor& t);
  };

  PkdLossConfig config_;
  PkdLoss loss_;
  AttentionLoss attention_loss_;
  bool pt_;                                   // beta > 0: [CLS] vectors are compared
  std::vector<std::int64_t> teacher_layers_;  // for student layers 1..k-1
  std::vector<std::int64_t> token_layers_;    // for student layers 1..k (token-level terms)
  data::FeatureRequest features_;
  std::map<std::string, std::string> inputs_;  // the teacher's and the features' digests
  // In TeacherOutputs::hidden: token_layers_ and row 0; in ::attention: token_layers_.
  Rows hidden_rows_, embedding_row_, attention_rows_;
  HiddenProjection projection_{nullptr};  // student width != teacher width only
  model::BertForSequenceClassification online_teacher_;
};

}  // namespace pkd::distill
