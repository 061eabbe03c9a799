#include "distill/distill.h"

#include <torch/torch.h>

#include "config/document.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "data/stream.h"
#include "distill/layer_map.h"
#include "inference/predict.h"
#include "model/hf_weights.h"
#include "train/finetune.h"

namespace pkd::distill {
namespace {

// The features must come from this teacher: its config and weights hash to the fingerprint.
void check_teacher_matches(const std::string& teacher, const shards::FeatureManifest& f,
                           const std::string& features) {
  const std::string config_sha = sha256_file(teacher + "/config.json");
  const std::string weights_sha = sha256_file(model::checkpoint_weights_file(teacher));
  if (config_sha != f.teacher_config_sha256 || weights_sha != f.teacher_weights_sha256)
    usage_fail("teacher features '", features, "' were computed by teacher '", f.teacher_dir, "' (",
               config_sha != f.teacher_config_sha256 ? "config" : "weights",
               " differ from distill.teacher '", teacher, "'): re-run `pkd cache-teacher --model ",
               teacher, "`, or name the teacher the features came from");
}

std::string layers_text(const std::vector<std::int64_t>& layers) {
  std::string text;
  for (auto l : layers) text += (text.empty() ? "" : ",") + std::to_string(l);
  return text.empty() ? "none" : text;
}

}  // namespace

void DistillConfig::validate() const {
  loop.validate("distill");
  loss.validate();
  if (student_dropout > 1)
    usage_fail("distill.student_dropout must be <= 1, got ", student_dropout);
  if (student_layers < 1)
    usage_fail("distill.student_layers must be at least 1, got ", student_layers);
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
  oc.validate();
  model::Runtime runtime(rc, mpi::local_rank_count());
  torch::manual_seed(static_cast<std::uint64_t>(c.loop.seed));  // same initialisation everywhere

  data::SplitIndex index = data::index_split(c.loop.train);
  const bool regression = index.header.regression;
  const bool use_teacher = c.loss.needs_teacher();

  // The teacher's depth and width: from the features, or its config when online.
  std::int64_t teacher_depth = 0, teacher_hidden = 0, teacher_outputs = 0;
  shards::FeatureManifest features;
  if (use_teacher && !c.online_teacher) {
    features = data::check_features_match(index, {c.features, {}});
    if (!c.teacher.empty()) check_teacher_matches(c.teacher, features, c.features);
    teacher_depth = features.num_layers;
    teacher_hidden = features.hidden_size;
    teacher_outputs = features.num_labels;
  } else if (!c.teacher.empty()) {
    const auto tc = model::BertConfig::load(c.teacher + "/config.json");
    teacher_depth = tc.num_hidden_layers;
    teacher_hidden = tc.hidden_size;
    teacher_outputs = tc.num_labels;
  }
  std::vector<std::int64_t> layers;
  if (use_teacher) {
    layers = teacher_layers(c.loss.layer_map, teacher_depth, c.student_layers);
    const std::int64_t outputs =
        regression ? 1 : static_cast<std::int64_t>(index.header.label_names.size());
    if (teacher_outputs != outputs)
      usage_fail("the teacher has ", teacher_outputs, " outputs; task ", index.header.task,
                 " needs ", outputs, ": distill from a teacher fine-tuned on this task");
  }

  // The student: the init's embeddings + first k layers, or random with the teacher's shape.
  model::RandomInitConfig shape;
  std::string init = c.student_init == "teacher" ? c.teacher : c.student_init;
  if (c.student_init == "random") {
    const auto tc = model::BertConfig::load(c.teacher + "/config.json");
    shape = {tc.hidden_size,
             c.student_layers,
             tc.num_attention_heads,
             tc.intermediate_size,
             tc.max_position_embeddings,
             tc.hidden_dropout_prob,
             tc.attention_probs_dropout_prob};
  }
  auto student = train::build_classifier(init, c.student_init == "random" ? 0 : c.student_layers,
                                         c.student_dropout, shape, index.header, "distill");
  inference::check_model_fits_tokens(student->config(), index.header, init, c.loop.train);
  if (use_teacher && c.loss.beta > 0 && student->config().hidden_size != teacher_hidden)
    usage_fail("the patient loss compares [CLS] vectors: the student's hidden size is ",
               student->config().hidden_size, ", the teacher's ", teacher_hidden,
               " (set distill.loss.beta = 0 for a narrower student)");
  train::check_eval_splits(c.loop, index, student->config(), init);
  student->to(runtime.device());

  model::BertForSequenceClassification teacher{nullptr};
  if (use_teacher && c.online_teacher) {
    teacher = model::load_pretrained(c.teacher);
    teacher->eval();
    teacher->to(runtime.device());
    for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  }
  log_info("distilling a ", c.student_layers, "-layer student",
           use_teacher ? cat(" from a ", teacher_depth, "-layer teacher (",
                             c.online_teacher ? "online" : "cached features",
                             "), teacher layers for PT: ", layers_text(layers))
                       : std::string(" without a teacher (alpha = beta = 0: fine-tuning)"));

  const PkdLossConfig lc = c.loss;
  const bool pt = use_teacher && lc.beta > 0;
  // Runs inside the trainer's autocast scope (runtime.precision), the online teacher too.
  train::LossFunction loss = [&, lc, pt, regression, layers](
                                 model::BertForSequenceClassification& m, const data::Batch& b) {
    torch::Tensor t_logits = b.teacher_logits, t_cls = b.teacher_cls;
    if (teacher) {
      torch::NoGradGuard no_grad;
      auto out = teacher(b.input_ids, b.token_type_ids, b.attention_mask,
                         pt ? model::HiddenStates::cls : model::HiddenStates::none);
      t_logits = out.logits.to(torch::kFloat);
      if (pt) {
        std::vector<torch::Tensor> rows;
        for (auto l : layers) rows.push_back(out.hidden_states[static_cast<std::size_t>(l)]);
        t_cls = torch::stack(rows).to(torch::kFloat);
      }
    }
    auto out = m(b.input_ids, b.token_type_ids, b.attention_mask,
                 pt ? model::HiddenStates::cls : model::HiddenStates::none);
    std::vector<torch::Tensor> s_cls;
    if (pt)
      for (std::size_t j = 1; j < out.hidden_states.size() - 1; ++j)
        s_cls.push_back(out.hidden_states[j].to(torch::kFloat));
    auto sums = pkd_loss_sums(out.logits.to(torch::kFloat), b.labels, t_logits, s_cls, t_cls,
                              regression, lc);
    return train::LossSums{sums.total, {sums.ce.detach(), sums.kd.detach(), sums.pt.detach()}};
  };

  DistillConfig table = c;
  train::TrainerSetup setup =
      train::make_setup("distill", config::to_toml("distill", table), oc, rc, reduce, c.loop.train);
  setup.part_names = {"ce", "kd", "pt"};
  if (use_teacher && !c.online_teacher) {
    setup.features.dir = c.features;
    // Only the rows the map needs are read: cls_hidden row l = teacher layer l.
    setup.features.layers = pt ? layers : std::vector<std::int64_t>{};
  }
  auto reducer = parallel::GradientReducer::create(reduce, comm, runtime.device());
  return train::run_training(c.loop, oc, runtime, *reducer, comm, student, index, loss, setup);
}

}  // namespace pkd::distill
