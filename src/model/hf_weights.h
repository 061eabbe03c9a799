#pragma once
// Checkpoints in HuggingFace's layouts, both ways:
// - read `model.safetensors` (F32/F16/BF16, own bounds-checked parser) or `pytorch_model.bin`
//   (torch.save's zip format) into a name -> tensor map;
// - load such a map into a BertForSequenceClassification: legacy LayerNorm gamma/beta names,
//   BertModel checkpoints without the "bert." prefix and pretraining checkpoints (cls.* heads
//   ignored, classifier newly initialised) are accepted; problems are reported by name;
// - select encoder layers for a student (PKD's initialisation);
// - export a directory that transformers' from_pretrained loads.
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "model/bert.h"

namespace pkd::model {

using StateDict = std::map<std::string, torch::Tensor>;

StateDict read_safetensors(const std::string& path);
// Throws a clear Error for the legacy (pre-zip) torch.save format, with how to convert it.
StateDict read_pytorch_bin(const std::string& path);
// Writes float32/float64 tensors to a safetensors file, atomically, exactly (training checkpoints).
void write_state_dict(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// DIR/model.safetensors if present, else DIR/pytorch_model.bin.
StateDict read_checkpoint_dir(const std::string& dir);
// The weights file read_checkpoint_dir reads (what a teacher fingerprint hashes).
std::string checkpoint_weights_file(const std::string& dir);

struct LoadReport {
  std::vector<std::string> missing;     // model parameters the checkpoint lacks
  std::vector<std::string> unexpected;  // checkpoint tensors the model does not have (ignored)
  std::vector<std::string> ignored;     // known-harmless extras: cls.* heads, position_ids
  bool classifier_initialized = false;  // the checkpoint had no classifier: drawn anew
  std::string summary() const;
};

// Copies the checkpoint into `model` (converted to the model's dtype). Missing encoder
// parameters, shape mismatches and unexpected "bert.*" tensors are errors naming the tensors;
// a missing classifier is initialised with std = initializer_range.
LoadReport load_state_dict(BertForSequenceClassification& model, const StateDict& checkpoint,
                           const std::string& origin);

// PKD's student initialisation: keeps embeddings, pooler and classifier, and maps teacher layer
// `layers[i]` to student layer i (the default in PKD is the first k layers).
StateDict select_layers(const StateDict& checkpoint, const std::vector<std::int64_t>& layers);

// HF names of a state dict with legacy names fixed: gamma/beta -> weight/bias, "bert." prefix.
StateDict normalize_names(const StateDict& checkpoint);

// Model + config from a HuggingFace directory (config.json + weights).
BertForSequenceClassification load_pretrained(const std::string& dir, LoadReport* report = nullptr);

// Writes DIR/config.json, DIR/model.safetensors (F32, HF names, metadata {"format": "pt"}) and,
// when `vocab_path` is given, DIR/vocab.txt. Each file is written atomically.
void export_pretrained(BertForSequenceClassification& model, const std::string& dir,
                       const std::string& vocab_path);

}  // namespace pkd::model
