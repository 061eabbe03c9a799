#pragma once
// Training checkpoints, format "pkd.train_checkpoint" version 1 (docs/formats.md):
//   OUTPUT_DIR/checkpoints/step-NNNNNNNN/  model.safetensors      every parameter and buffer
//                                          config.json            the model's (HF): `pkd eval`
//                                                                 and `pkd predict` load the
//                                                                 directory as a model
//                                          optimizer.safetensors  AdamW moments + step count
//                                          objective.safetensors  an objective's own trained
//                                                                 parameters (only when it has
//                                                                 some: Objective::trainable)
//                                          trainer_state.json     position, best metric, history
//                                          config.toml            the effective configuration
//   OUTPUT_DIR/checkpoints/latest          "step-NNNNNNNN", written last
// A checkpoint directory is written under a temporary name and renamed into place, then `latest`
// is replaced atomically: a crash at any point leaves the previous checkpoint usable. Dropout
// needs no saved RNG state: the trainer reseeds from (seed, rank, step) before every step.
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/hf_weights.h"

namespace pkd::train {

inline constexpr const char* kCheckpointFormat = "pkd.train_checkpoint";
inline constexpr std::int64_t kCheckpointVersion = 1;

struct TrainState {
  std::int64_t epoch = 0;          // the epoch in progress (0-based)
  std::int64_t step_in_epoch = 0;  // optimizer steps of it already done
  std::int64_t global_step = 0;    // optimizer steps done in all
  std::int64_t world_size = 1;
  double best_metric = NAN;         // primary dev metric of the exported model
  std::string metrics_jsonl;        // metrics.jsonl so far
  std::vector<double> epoch_sums;   // the epoch's loss sums so far (total, then parts)
  std::int64_t epoch_examples = 0;  // the epoch's examples so far
  // The same since the last dev evaluation (eval_every > 0; empty otherwise): the next one's
  // train_loss covers the steps before a preemption too.
  std::vector<double> eval_sums;
  std::int64_t eval_examples = 0;
  std::string config_sha256;           // of the effective config without run-control keys
  double loss_scale = 1;               // float16 dynamic loss scale (1 when not float16)
  std::int64_t loss_scale_growth = 0;  // finite steps since the scale last changed
  // What the run read, by content digest: {"train": ..., "vocab": ..., "teacher": ...,
  // "features": ...} (TrainingSession, Objective::inputs). A resume refuses other inputs.
  std::map<std::string, std::string> inputs;
};

// Rank 0 only. Keeps the `keep` newest checkpoints.
void save_checkpoint(const std::string& output_dir, const TrainState& state,
                     const model::StateDict& model, const model::BertConfig& model_config,
                     const model::StateDict& optimizer, const model::StateDict& objective,
                     const std::string& config_toml, std::int64_t keep);

struct Checkpoint {
  std::string dir;
  TrainState state;
  model::StateDict model, optimizer;
  model::StateDict objective;  // empty when the checkpoint has no objective.safetensors
};

// The checkpoint `latest` names, or nothing when there is no `latest`. Errors name the file
// when it is damaged or of another format.
std::optional<Checkpoint> load_latest_checkpoint(const std::string& output_dir);
bool has_checkpoint(const std::string& output_dir);

}  // namespace pkd::train
