#include "inference/cache_teacher.h"
#include "inference/predict.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "config/document.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/version.h"
#include "data/batching.h"
#include "model/hf_weights.h"
#include "shards/feature_shard.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"

namespace pkd::inference {
namespace {

// The features of one token shard, in its order.
shards::FeatureShard compute(model::BertForSequenceClassification& teacher,
                             const model::Runtime& runtime, const shards::TokenShard& tokens,
                             const CacheTeacherConfig& c) {
  const auto& cfg = teacher->config();
  const std::int64_t n = tokens.size(), layers = cfg.num_hidden_layers, hidden = cfg.hidden_size;
  auto logits = torch::empty({n, cfg.num_labels}, torch::kFloat);
  auto cls = torch::empty({layers + 1, n, hidden}, torch::kFloat);
  torch::InferenceMode inference;
  for (const auto& rows : data::length_sorted_batches(tokens, c.batch_size)) {
    data::Batch b = data::collate(tokens, rows);
    model::BertOutput out;
    {
      model::Runtime::Autocast autocast(runtime);
      out = teacher(b.input_ids.to(runtime.device()), b.token_type_ids.to(runtime.device()),
                    b.attention_mask.to(runtime.device()), model::HiddenStates::cls);
    }
    auto index = torch::tensor(rows, torch::kLong);
    logits.index_copy_(0, index, out.logits.to(torch::kCPU, torch::kFloat));
    cls.index_copy_(1, index, torch::stack(out.hidden_states).to(torch::kCPU, torch::kFloat));
  }
  shards::FeatureShard s;
  s.logits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
  if (c.dtype == "float16") {
    auto half = cls.to(torch::kHalf).contiguous();
    const auto* bits = reinterpret_cast<const std::uint16_t*>(half.data_ptr<at::Half>());
    s.cls_hidden_f16.resize(static_cast<std::size_t>(half.numel()));
    for (std::size_t i = 0; i < s.cls_hidden_f16.size(); ++i) s.cls_hidden_f16[i].bits = bits[i];
  } else {
    s.cls_hidden.assign(cls.data_ptr<float>(), cls.data_ptr<float>() + cls.numel());
  }
  s.example_ids = tokens.example_ids;
  return s;
}

}  // namespace

void CacheTeacherConfig::validate() const {
  if (model.empty()) usage_fail("cache_teacher.model is required: the teacher directory (--model)");
  if (tokens.empty())
    usage_fail("cache_teacher.tokens is required: a token split directory (--tokens)");
  if (out.empty())
    usage_fail("cache_teacher.out is required: the feature directory to write (--out)");
  if (dtype != "float16" && dtype != "float32")
    usage_fail("cache_teacher.dtype must be float16 or float32, got \"", dtype, "\"");
  if (batch_size < 1) usage_fail("cache_teacher.batch_size must be at least 1, got ", batch_size);
}

CacheSummary run_cache_teacher(const CacheTeacherConfig& c,
                               const model::RuntimeConfig& runtime_config, mpi::Comm& comm) {
  c.validate();
  model::Runtime runtime(runtime_config, mpi::local_rank_count());
  const shards::TokenManifest tokens = shards::read_manifest(c.tokens);
  if (tokens.shards.empty()) fail("'", c.tokens, "' has no token shards");
  model::LoadReport report;
  auto teacher = model::load_pretrained(c.model, &report);
  if (report.classifier_initialized)
    usage_fail("the teacher '", c.model,
               "' has no classifier weights: cache a fine-tuned teacher, not a "
               "pretrained encoder");
  teacher->to(runtime.device());
  teacher->eval();
  const auto& cfg = teacher->config();
  const shards::Verification verification = runtime_config.verification();
  const auto first = shards::read_token_shard_header(c.tokens, tokens, 0, verification);
  check_model_fits_tokens(cfg, first, c.model, c.tokens);
  check_model_vocab(c.model, first, c.tokens);

  shards::FeatureManifest m;
  m.teacher_dir = std::filesystem::absolute(c.model).string();
  m.teacher_config_sha256 = sha256_file(c.model + "/config.json");
  m.teacher_weights_sha256 = sha256_file(model::checkpoint_weights_file(c.model));
  m.token_dir = std::filesystem::absolute(c.tokens).string();
  m.token_settings = tokens.settings_json;
  m.num_layers = cfg.num_hidden_layers;
  m.hidden_size = cfg.hidden_size;
  m.num_labels = cfg.num_labels;
  m.num_examples = tokens.num_examples;
  m.dtype = c.dtype;
  auto fingerprint_of = [&](const shards::ManifestShard& t) {
    return shards::FeatureFingerprint{m.teacher_config_sha256, m.teacher_weights_sha256, t.sha256,
                                      m.token_settings};
  };

  // Rank 0 decides about existing output; everyone follows.
  bool up_to_date = false;
  if (comm.is_root()) {
    make_directories(c.out);
    remove_stale_temp_files(c.out);
    if (file_exists(c.out + "/manifest.json")) {
      shards::FeatureManifest old = shards::read_feature_manifest(c.out);
      bool same = old.teacher_config_sha256 == m.teacher_config_sha256 &&
                  old.teacher_weights_sha256 == m.teacher_weights_sha256 &&
                  old.token_settings == m.token_settings && old.dtype == m.dtype &&
                  old.shards.size() == tokens.shards.size();
      for (std::size_t i = 0; same && i < old.shards.size(); ++i)
        same = old.shards[i].token_shard_sha256 == tokens.shards[i].sha256;
      if (same) {
        up_to_date = true;
      } else if (!c.overwrite) {
        usage_fail("'", c.out,
                   "' holds features of another teacher, other tokens or another dtype; pass "
                   "--overwrite to replace them, or choose another --out");
      } else {
        std::remove((c.out + "/manifest.json").c_str());
      }
    }
  }
  CacheSummary summary;
  summary.examples = tokens.num_examples;
  summary.shards = static_cast<std::int64_t>(tokens.shards.size());
  if (comm.broadcast_value(up_to_date)) {
    summary.up_to_date = true;
    return summary;
  }

  const auto start = std::chrono::steady_clock::now();
  std::int64_t written = 0;
  for (std::size_t i = 0; i < tokens.shards.size(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(comm.size())) != comm.rank()) continue;
    const auto& t = tokens.shards[i];
    const std::string path = c.out + "/" + t.file;
    const shards::FeatureFingerprint wanted = fingerprint_of(t);
    if (file_exists(path)) {
      shards::FeatureShardHeader existing = shards::read_feature_shard_header(path);
      if (existing.fingerprint == wanted && existing.dtype == c.dtype) continue;  // complete
      if (!c.overwrite)
        usage_fail("'", path, "' was computed from something else (",
                   existing.fingerprint.differences(wanted), "); pass --overwrite to replace it");
    }
    shards::TokenShard token_shard = shards::read_token_shard(c.tokens, tokens, i, verification);
    shards::FeatureShard f = compute(teacher, runtime, token_shard, c);
    auto& h = f.header;
    h.fingerprint = wanted;
    h.teacher_dir = m.teacher_dir;
    h.token_shard_file = std::filesystem::absolute(c.tokens + "/" + t.file).string();
    h.num_examples = token_shard.size();
    h.num_layers = m.num_layers;
    h.hidden_size = m.hidden_size;
    h.num_labels = m.num_labels;
    h.dtype = c.dtype;
    h.tool_version = version_string();
    h.created_utc = shards::utc_now();
    shards::write_feature_shard(path, f);
    ++written;
    log_info("cached ", t.file, ": ", h.num_examples, " examples");
  }
  summary.written = comm.sum(written);  // also: every shard exists before the manifest
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (comm.is_root()) {
    for (const auto& t : tokens.shards) {
      shards::FeatureShardHeader h = shards::read_feature_shard_header(c.out + "/" + t.file);
      if (!(h.fingerprint == fingerprint_of(t)))
        fail("'", c.out, "/", t.file,
             "' does not match its token shard after caching; re-run with --overwrite");
      m.shards.push_back({t.file, h.num_examples, t.sha256, sha256_file(c.out + "/" + t.file)});
    }
    m.tool_version = version_string();
    m.created_utc = shards::utc_now();
    CacheTeacherConfig effective = c;
    model::RuntimeConfig effective_runtime = runtime_config;
    write_file_atomic(
        c.out + "/cache_teacher.toml",
        "# Effective configuration of the `pkd cache-teacher` run that wrote these features.\n" +
            config::to_toml("cache_teacher", effective) + "\n" +
            config::to_toml("runtime", effective_runtime));
    shards::write_feature_manifest(c.out, m);
  }
  comm.barrier();
  return summary;
}

}  // namespace pkd::inference
