#pragma once
// `pkd distill`: data-parallel PKD workers. A k-layer student learns from the token shards and
// the cached teacher features (logits + the [CLS] vectors of the mapped layers, read per
// streaming window), never running the teacher — or, with online_teacher, running it every step
// (the seed's way: parity tests, users without a cache). The trainer core does the rest: sampler,
// gradient sums, fused AdamW, dev evaluation, best-epoch export, checkpoints, preemption.
// alpha = beta = 0 is the fine-tuning baseline, beta = 0 vanilla KD: the seed's rows come from
// this one command.
#include <cstdint>
#include <string>

#include "dist/comm.h"
#include "distill/pkd_loss.h"
#include "model/runtime.h"
#include "parallel/gradient_reducer.h"
#include "train/loop_config.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace pkd::distill {

struct DistillConfig {
  std::string teacher;   // the teacher's HF directory (checked against the features; online)
  std::string features;  // FEATURES/<train split> from `pkd cache-teacher`
  bool online_teacher = false;
  std::string student_init = "teacher";  // teacher | an HF directory | random
  std::int64_t student_layers = 6;
  double student_dropout = -1;  // hidden + attention dropout of the student; -1 = the init's
  train::LoopConfig loop;  // train, dev, test, output_dir, epochs, batch_size, ... (same table)
  PkdLossConfig loss;      // [distill.loss]

  template <class V>
  void visit(V& v) {
    v.field("teacher", teacher,
            "the teacher's HuggingFace directory: checked against the features' fingerprint, run "
            "by online_teacher, and the default student initialisation");
    v.field("features", features,
            "teacher features of the train split (pkd cache-teacher --out), e.g. "
            "features/SST-2/train");
    v.field("online_teacher", online_teacher,
            "run the teacher every step instead of reading features (the seed's way; slow)");
    v.field("student_init", student_init,
            "teacher (its embeddings + first k layers, PKD's initialisation), a HuggingFace "
            "directory (same), or random (the teacher's architecture, k layers)");
    v.field("student_layers", student_layers, "k: the student's number of layers");
    v.field("student_dropout", student_dropout,
            "hidden and attention dropout of the student (-1 = as in the init's config)");
    loop.visit(v);
    v.table("loss", loss, "The PKD loss: L = (1 - alpha) CE + alpha KD + beta PT");
  }
  void validate() const;
};

train::TrainResult run_distill(const DistillConfig& config, const train::OptimizerConfig& optimizer,
                               const model::RuntimeConfig& runtime,
                               const parallel::ReduceConfig& reduce, dist::Comm& comm);

}  // namespace pkd::distill
