#pragma once
// Where a model's weights come from and what they are: building the classifier a training run
// starts from (fine-tuning, a PKD student), and the named tensors of a model (checkpoints, the
// best epoch kept in memory).
#include <cstdint>
#include <string>
#include <vector>

#include "model/bert.h"
#include "model/hf_weights.h"
#include "model/init_config.h"

namespace pkd::model {

// What a task asks of a classifier: its vocabulary and its head.
struct TaskHead {
  std::int64_t vocab_size = 0;
  bool regression = false;               // one output (STS-B) trained with MSE
  std::vector<std::string> label_names;  // classification labels, in label-id order
  std::int64_t outputs() const;
};

// The model a run starts from.
struct ClassifierInit {
  std::string from;         // a HuggingFace directory, or "random"
  std::int64_t layers = 0;  // > 0: only from's embeddings and first `layers` layers (a student);
                            // not for "random", whose depth is random.num_hidden_layers
  double dropout = -1;      // >= 0 replaces the hidden and attention dropout of the config
  RandomInitConfig random;  // the architecture when from = "random"
};

// A checkpoint (its classifier drawn anew when it has none or one of another size: a pretrained
// BERT, or a teacher of another task), cut to its first `layers` layers — PKD's student
// initialisation; or, for "random", `init.random`'s architecture drawn with HuggingFace's
// initialisation. `table` names the config table in errors. Draws from LibTorch's generator.
BertForSequenceClassification build_classifier(const ClassifierInit& init, const TaskHead& task,
                                               const std::string& table);

// The named parameters and buffers of `m` (the tensors themselves, not copies).
StateDict model_state(BertForSequenceClassification& m);

}  // namespace pkd::model
