#pragma once
// PKD as a training objective: L = (1 - alpha) CE + alpha KD(T) + beta PT on each batch, the
// teacher's logits and [CLS] vectors read from the batch (cached features) or computed by the
// online teacher in the same autocast scope as the student.
#include "distill/pkd_loss.h"
#include "distill/teacher.h"
#include "train/objective.h"

namespace pkd::distill {

class PkdObjective : public train::Objective {
 public:
  // `online_teacher` is null unless teacher.online.
  PkdObjective(const PkdLossConfig& loss, bool regression, const Teacher& teacher,
               model::BertForSequenceClassification online_teacher);
  std::string name() const override { return "PKD"; }
  std::vector<std::string> part_names() const override { return {"ce", "kd", "pt"}; }
  data::FeatureRequest features() const override { return features_; }
  std::map<std::string, std::string> inputs() const override { return inputs_; }
  train::LossSums loss(model::BertForSequenceClassification& student,
                       const data::Batch& batch) override;

 private:
  PkdLoss loss_;
  bool pt_;                                   // beta > 0: [CLS] vectors are compared
  std::vector<std::int64_t> teacher_layers_;  // for student layers 1..k-1
  data::FeatureRequest features_;
  std::map<std::string, std::string> inputs_;  // the teacher's and the features' digests
  model::BertForSequenceClassification online_teacher_;
};

}  // namespace pkd::distill
