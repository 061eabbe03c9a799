#include "train/finetune.h"

#include "config/document.h"
#include "core/error.h"

namespace pkd::train {

void FinetuneConfig::validate() const {
  if (init.empty())
    usage_fail("finetune.init is required: a HuggingFace model directory or \"random\" (--init)");
  if (init_layers < 0) usage_fail("finetune.init_layers must be >= 0, got ", init_layers);
  loop.validate("finetune");
}

TrainResult run_finetune(const FinetuneConfig& c, const OptimizerConfig& oc,
                         const model::RuntimeConfig& rc, const parallel::ReduceConfig& reduce,
                         mpi::Comm& comm) {
  c.validate();
  TrainingSession session(c.loop, oc, rc, reduce, comm);
  auto model = model::build_classifier({c.init, c.init_layers, -1, c.random_init}, session.task(),
                                       "finetune");
  TaskObjective objective(session.index().header.regression);
  FinetuneConfig table = c, defaults;
  return session.train(model, objective,
                       {"finetune", config::to_toml("finetune", table),
                        config::to_toml("finetune", defaults), c.init});
}

}  // namespace pkd::train
