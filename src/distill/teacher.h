#pragma once
// The teacher of a distillation run, resolved once: its depth, width and outputs (from the
// cached features' manifest, or from its config.json when it runs online or there are no
// features), the teacher layers the patient loss reads, and — online — the model itself.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/stream.h"
#include "distill/distill_config.h"
#include "model/bert.h"

namespace pkd::distill {

struct Teacher {
  bool used = false;                 // alpha > 0 or beta > 0: the loss needs a teacher
  bool online = false;               // run every step (online_teacher) instead of read
  std::int64_t depth = 0;            // transformer layers
  std::int64_t hidden = 0;           // hidden size
  std::int64_t outputs = 0;          // logits per example
  std::int64_t heads = 0;            // attention heads
  std::vector<std::int64_t> layers;  // teacher layer per student layer 1..k-1 (PT; may be empty)
  // Teacher layer per student layer 1..k for the token-level terms: `layers`, then L for the
  // student's last layer (whose [CLS] vector PKD leaves to KD, but whose tokens TinyBERT maps).
  std::vector<std::int64_t> token_layers;
  data::FeatureRequest features;            // what training batches carry (dir "" = none)
  std::optional<model::BertConfig> config;  // config.json, read once when distill.teacher is set
  // Content digests for the run's identity (a resume refuses others): "teacher" (config.json and
  // weights) and, when cached, "features" (every feature shard's sha256).
  std::map<std::string, std::string> inputs;
};

// Checks the teacher against the task (outputs), the features against the token split and the
// teacher (fingerprint), and the layer map against both depths. Errors say what to change.
Teacher resolve_teacher(const DistillConfig& config, const data::SplitIndex& train);

// The online teacher: loaded, in eval mode, without gradients, on `device`.
model::BertForSequenceClassification load_online_teacher(const DistillConfig& config,
                                                         torch::Device device);

}  // namespace pkd::distill
