#include "distill/distill.h"

#include "config/document.h"
#include "core/error.h"
#include "core/log.h"
#include "core/strings.h"
#include "distill/pkd_objective.h"
#include "distill/teacher.h"

namespace pkd::distill {
namespace {

std::string layers_text(const std::vector<std::int64_t>& layers) {
  std::string text;
  for (auto l : layers) text += (text.empty() ? "" : ",") + std::to_string(l);
  return text.empty() ? "none" : text;
}

// The student: the init's embeddings + first k layers, or random with the teacher's shape.
model::ClassifierInit student_init(const DistillConfig& c, const Teacher& teacher) {
  model::ClassifierInit init;
  init.from = c.student_init == "teacher" ? c.teacher : c.student_init;
  init.dropout = c.student_dropout;
  if (c.student_init != "random") {
    init.layers = c.student_layers;
    return init;
  }
  const model::BertConfig& tc = *teacher.config;
  init.random = {tc.hidden_size,
                 c.student_layers,
                 tc.num_attention_heads,
                 tc.intermediate_size,
                 tc.max_position_embeddings,
                 tc.hidden_dropout_prob,
                 tc.attention_probs_dropout_prob};
  return init;
}

}  // namespace

void DistillConfig::validate() const {
  loop.validate("distill");
  loss.validate();
  // -1 (any negative): the init's dropout; else a probability. NaN fails (compares false).
  if (!(student_dropout < 0 || (student_dropout >= 0 && student_dropout < 1)))
    usage_fail("distill.student_dropout must be in [0, 1), or -1 for the init's config, got ",
               student_dropout);
  if (student_layers < 1)
    usage_fail("distill.student_layers must be at least 1, got ", student_layers);
  if (student_init.empty())
    usage_fail(
        "distill.student_init is required: a pretrained HuggingFace directory (the "
        "paper's), teacher or random");
  if (loss.needs_teacher() && !online_teacher && features.empty())
    usage_fail(
        "distill.features is required (teacher features from `pkd cache-teacher`), or set "
        "online_teacher = true to run the teacher every step");
  if ((online_teacher || student_init == "teacher" || student_init == "random") && teacher.empty())
    usage_fail("distill.teacher is required: the teacher's HuggingFace directory (--teacher)");
}

train::TrainResult run_distill(const DistillConfig& c, const train::OptimizerConfig& oc,
                               const model::RuntimeConfig& rc, const parallel::ReduceConfig& reduce,
                               mpi::Comm& comm) {
  c.validate();
  train::TrainingSession session(c.loop, oc, rc, reduce, comm);
  const Teacher teacher = resolve_teacher(c, session.index());
  const model::ClassifierInit init = student_init(c, teacher);
  auto student = model::build_classifier(init, session.task(), "distill");
  if (teacher.used && c.loss.beta > 0 && student->config().hidden_size != teacher.hidden)
    usage_fail("the patient loss compares [CLS] vectors: the student's hidden size is ",
               student->config().hidden_size, ", the teacher's ", teacher.hidden,
               " (set distill.loss.beta = 0 for a narrower student)");
  log_info("distilling a ", c.student_layers, "-layer student",
           teacher.used ? cat(" from a ", teacher.depth, "-layer teacher (",
                              teacher.online ? "online" : "cached features",
                              "), teacher layers for PT: ", layers_text(teacher.layers))
                        : std::string(" without a teacher (alpha = beta = 0: fine-tuning)"));
  PkdObjective objective(c.loss, session.index().header.regression, teacher,
                         teacher.online ? load_online_teacher(c, session.runtime().device())
                                        : model::BertForSequenceClassification(nullptr));
  DistillConfig table = c, defaults;
  return session.train(student, objective,
                       {"distill", config::to_toml("distill", table),
                        config::to_toml("distill", defaults), init.from});
}

}  // namespace pkd::distill
