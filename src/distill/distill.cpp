#include "distill/distill.h"

#include "config/document.h"
#include "core/error.h"
#include "core/log.h"
#include "core/strings.h"
#include "distill/pkd_objective.h"
#include "distill/teacher.h"

namespace pkd::distill {
namespace {

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
  const std::int64_t hidden = c.student_hidden_size > 0 ? c.student_hidden_size : tc.hidden_size;
  const std::int64_t intermediate = c.student_intermediate_size > 0 ? c.student_intermediate_size
                                    : c.student_hidden_size > 0     ? 4 * hidden
                                                                    : tc.intermediate_size;
  init.random = {hidden,
                 c.student_layers,
                 c.student_heads > 0 ? c.student_heads : tc.num_attention_heads,
                 intermediate,
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
  for (const auto& [key, value] :
       {std::pair<const char*, std::int64_t>{"student_hidden_size", student_hidden_size},
        {"student_intermediate_size", student_intermediate_size},
        {"student_heads", student_heads}}) {
    if (value == -1) continue;
    if (value < 1)
      usage_fail("distill.", key, " must be positive, or -1 for the default, got ", value);
    if (student_init != "random")
      usage_fail("distill.", key, " = ", value,
                 " shapes a new student: it needs student_init = "
                 "random (student_init = '",
                 student_init, "' brings its own architecture)");
  }
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
  const model::BertConfig& sc = student->config();
  if (teacher.used && c.loss.attention_weight > 0 && sc.num_attention_heads != teacher.heads)
    usage_fail("the attention loss compares attention maps head by head: the student has ",
               sc.num_attention_heads, " heads, the teacher ", teacher.heads,
               " (set distill.student_heads = ", teacher.heads,
               ", or distill.loss.attention_weight = 0)");
  const bool projected =
      teacher.used && c.loss.compares_hidden() && sc.hidden_size != teacher.hidden;
  log_info("distilling a ", c.student_layers, "-layer student of width ", sc.hidden_size,
           teacher.used ? cat(" from a ", teacher.depth, "-layer teacher of width ", teacher.hidden,
                              " (", teacher.online ? "online" : "cached features",
                              "), teacher layers for PT: ", shards::layer_list(teacher.layers),
                              c.loss.hidden_weight > 0 || c.loss.attention_weight > 0
                                  ? cat(", token-level: ", shards::layer_list(teacher.token_layers))
                                  : std::string(),
                              projected ? cat(", learned projection ", sc.hidden_size, " -> ",
                                              teacher.hidden)
                                        : std::string())
                        : std::string(" without a teacher (no distillation term: fine-tuning)"));
  PkdObjective objective(c.loss, session.index().header.regression, teacher, sc,
                         teacher.online ? load_online_teacher(c, session.runtime().device())
                                        : model::BertForSequenceClassification(nullptr));
  DistillConfig table = c, defaults;
  return session.train(student, objective,
                       {"distill", config::to_toml("distill", table),
                        config::to_toml("distill", defaults), init.from});
}

}  // namespace pkd::distill
