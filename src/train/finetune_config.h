#pragma once
// [finetune]: the settings of `pkd finetune`, torch-free so that `pkd report` reads a run's
// effective config through this struct (train/finetune.h runs it).
#include <cstdint>
#include <string>

#include "model/init_config.h"
#include "train/loop_config.h"

namespace pkd::train {

struct FinetuneConfig {
  std::string init;              // HuggingFace model directory, or "random"
  std::int64_t init_layers = 0;  // 0: all of init's layers; k: its embeddings + first k layers
  LoopConfig loop;               // train, dev, output_dir, epochs, batch_size, ... (same table)
  model::RandomInitConfig random_init;

  template <class V>
  void visit(V& v) {
    v.field("init", init, "HuggingFace model directory to start from, or \"random\"");
    v.field("init_layers", init_layers,
            "0 = all layers of init; k = its embeddings and first k layers (a k-layer student)");
    loop.visit(v);
    v.table("random_init", random_init, "Architecture for init = \"random\"");
  }
  void validate() const;
};

}  // namespace pkd::train
