#pragma once
// `pkd distill`: data-parallel PKD workers. A k-layer student learns from the token shards and
// the cached teacher features (logits + the [CLS] vectors of the mapped layers, read per
// streaming window), never running the teacher — or, with online_teacher, running it every step
// (the seed's way: parity tests, users without a cache). This command resolves the teacher
// (teacher.h), builds the student and the PKD objective (pkd_objective.h); the trainer core does
// the rest: sampler, gradient sums, fused AdamW, dev evaluation, best export, checkpoints,
// preemption. alpha = beta = 0 is the fine-tuning baseline, beta = 0 vanilla KD: the paper's
// rows come from this one command.
#include "distill/distill_config.h"
#include "model/runtime.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace pkd::distill {

train::TrainResult run_distill(const DistillConfig& config, const train::OptimizerConfig& optimizer,
                               const model::RuntimeConfig& runtime,
                               const parallel::ReduceConfig& reduce, mpi::Comm& comm);

}  // namespace pkd::distill
