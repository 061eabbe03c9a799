#include "distill/teacher.h"

#include "core/error.h"
#include "core/sha256.h"
#include "distill/layer_map.h"
#include "inference/predict.h"
#include "model/hf_weights.h"

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

}  // namespace

Teacher resolve_teacher(const DistillConfig& c, const data::SplitIndex& train) {
  Teacher t;
  t.used = c.loss.needs_teacher();
  t.online = t.used && c.online_teacher;
  if (!c.teacher.empty()) t.config = model::BertConfig::load(c.teacher + "/config.json");
  if (!t.used) return t;
  if (!c.teacher.empty()) inference::check_model_vocab(c.teacher, train.header, train.dir);
  if (!t.online) {
    const auto manifest = data::check_features_match(train, {c.features, {}});
    if (!c.teacher.empty()) check_teacher_matches(c.teacher, manifest, c.features);
    Sha256 features;
    for (const auto& s : manifest.shards) features.update(s.sha256 + "\n");
    t.inputs["teacher"] =
        sha256_hex(manifest.teacher_config_sha256 + manifest.teacher_weights_sha256);
    t.inputs["features"] = features.hex_digest();
    t.depth = manifest.num_layers;
    t.hidden = manifest.hidden_size;
    t.outputs = manifest.num_labels;
  } else {
    t.inputs["teacher"] = sha256_hex(sha256_file(c.teacher + "/config.json") +
                                     sha256_file(model::checkpoint_weights_file(c.teacher)));
    t.depth = t.config->num_hidden_layers;
    t.hidden = t.config->hidden_size;
    t.outputs = t.config->num_labels;
  }
  t.layers = teacher_layers(c.loss.layer_map, t.depth, c.student_layers);
  const std::int64_t outputs =
      train.header.regression ? 1 : static_cast<std::int64_t>(train.header.label_names.size());
  if (t.outputs != outputs)
    usage_fail("the teacher has ", t.outputs, " outputs; task ", train.header.task, " needs ",
               outputs, ": distill from a teacher fine-tuned on this task");
  if (!t.online) {
    t.features.dir = c.features;
    // Only the rows the map needs are read: cls_hidden row l = teacher layer l.
    if (c.loss.beta > 0) t.features.layers = t.layers;
  }
  return t;
}

model::BertForSequenceClassification load_online_teacher(const DistillConfig& c,
                                                         torch::Device device) {
  auto teacher = model::load_pretrained(c.teacher);
  teacher->eval();
  teacher->to(device);
  for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  return teacher;
}

}  // namespace pkd::distill
