#include "distill/teacher.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

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
  shards::FeatureManifest manifest;
  if (!t.online) {
    manifest = data::check_features_match(train, {c.features, {}, {}});
    if (!c.teacher.empty()) check_teacher_matches(c.teacher, manifest, c.features);
    Sha256 features;
    for (const auto& s : manifest.shards) features.update(s.sha256 + "\n");
    t.inputs["teacher"] =
        sha256_hex(manifest.teacher_config_sha256 + manifest.teacher_weights_sha256);
    t.inputs["features"] = features.hex_digest();
    t.depth = manifest.num_layers;
    t.hidden = manifest.hidden_size;
    t.outputs = manifest.num_labels;
    t.heads = manifest.num_heads > 0 ? manifest.num_heads
                                     : (t.config ? t.config->num_attention_heads : 0);
  } else {
    t.inputs["teacher"] = sha256_hex(sha256_file(c.teacher + "/config.json") +
                                     sha256_file(model::checkpoint_weights_file(c.teacher)));
    t.depth = t.config->num_hidden_layers;
    t.hidden = t.config->hidden_size;
    t.outputs = t.config->num_labels;
    t.heads = t.config->num_attention_heads;
  }
  t.layers = teacher_layers(c.loss.layer_map, t.depth, c.student_layers);
  t.token_layers = t.layers;
  t.token_layers.push_back(t.depth);
  const std::int64_t outputs =
      train.header.regression ? 1 : static_cast<std::int64_t>(train.header.label_names.size());
  if (t.outputs != outputs)
    usage_fail("the teacher has ", t.outputs, " outputs; task ", train.header.task, " needs ",
               outputs, ": distill from a teacher fine-tuned on this task");
  auto sorted = [](std::vector<std::int64_t> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  // Token-level rows (0 = embeddings output) and attention layers, sorted as the cache stores
  // them: what the batches carry, or what the online teacher returns.
  std::vector<std::int64_t> hidden;
  if (c.loss.embedding_weight > 0) hidden.push_back(0);
  if (c.loss.hidden_weight > 0)
    hidden.insert(hidden.end(), t.token_layers.begin(), t.token_layers.end());
  t.features.tokens.hidden = sorted(hidden);
  if (c.loss.attention_weight > 0) t.features.tokens.attention = sorted(t.token_layers);
  if (!t.online) {
    t.features.dir = c.features;
    // Only the rows the map needs are read: cls_hidden row l = teacher layer l.
    if (c.loss.beta > 0) t.features.layers = t.layers;
    data::check_token_features(manifest, t.features);  // a missing token-level layer, named
  }
  return t;
}

model::BertForSequenceClassification load_online_teacher(const DistillConfig& c,
                                                         torch::Device device) {
  // Building the modules draws their default initialisation from the global generator, which
  // the objective's projection draws from next: restored, so that an online run starts from the
  // same student and projection as a run on cached features.
  auto generator = at::detail::getDefaultCPUGenerator();
  const at::Tensor state = generator.get_state();
  auto teacher = model::load_pretrained(c.teacher);
  generator.set_state(state);
  teacher->eval();
  teacher->to(device);
  for (auto& p : teacher->parameters()) p.set_requires_grad(false);
  return teacher;
}

}  // namespace pkd::distill
