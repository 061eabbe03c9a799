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
#include "shards/verify.h"

namespace pkd::inference {
namespace {

// A float32 CPU tensor in the storage type of the cache.
shards::Activations stored(const torch::Tensor& t, const std::string& dtype) {
  shards::Activations a;
  if (dtype == "float16") {
    auto half = t.to(torch::kHalf).contiguous();
    const auto* bits = reinterpret_cast<const std::uint16_t*>(half.data_ptr<at::Half>());
    a.f16.resize(static_cast<std::size_t>(half.numel()));
    for (std::size_t i = 0; i < a.f16.size(); ++i) a.f16[i].bits = bits[i];
  } else {
    auto full = t.contiguous();
    a.f32.assign(full.data_ptr<float>(), full.data_ptr<float>() + full.numel());
  }
  return a;
}

// The features of one token shard, in its order: logits, every layer's [CLS] vector and the
// token-level features of `want`.
shards::FeatureShard compute(model::BertForSequenceClassification& teacher,
                             const model::Runtime& runtime, const shards::TokenShard& tokens,
                             const CacheTeacherConfig& c, const shards::TokenFeatureLayers& want) {
  const auto& cfg = teacher->config();
  const std::int64_t n = tokens.size(), layers = cfg.num_hidden_layers, hidden = cfg.hidden_size;
  const auto& offsets = tokens.offsets;
  const auto att_offsets = shards::attention_offsets(offsets, cfg.num_attention_heads);
  auto logits = torch::empty({n, cfg.num_labels}, torch::kFloat);
  auto cls = torch::empty({layers + 1, n, hidden}, torch::kFloat);
  std::vector<torch::Tensor> token_hidden, attention;
  for (std::size_t i = 0; i < want.hidden.size(); ++i)
    token_hidden.push_back(torch::empty({offsets.back(), hidden}, torch::kFloat));
  for (std::size_t i = 0; i < want.attention.size(); ++i)
    attention.push_back(torch::empty({att_offsets.back()}, torch::kFloat));
  const auto mode = want.hidden.empty() ? model::HiddenStates::cls : model::HiddenStates::all;
  torch::InferenceMode inference;
  for (const auto& rows : data::length_sorted_batches(tokens, c.batch_size)) {
    data::Batch b = data::collate(tokens, rows);
    model::BertOutput out;
    {
      model::Runtime::Autocast autocast(runtime);
      out = teacher(b.input_ids.to(runtime.device()), b.token_type_ids.to(runtime.device()),
                    b.attention_mask.to(runtime.device()), mode, !want.attention.empty());
    }
    auto index = torch::tensor(rows, torch::kLong);
    logits.index_copy_(0, index, out.logits.to(torch::kCPU, torch::kFloat));
    std::vector<torch::Tensor> cls_rows;
    for (const auto& h : out.hidden_states)
      cls_rows.push_back(mode == model::HiddenStates::cls ? h : h.select(1, 0));
    cls.index_copy_(1, index, torch::stack(cls_rows).to(torch::kCPU, torch::kFloat));
    // Token-level features: each example's unpadded rows to its place in the ragged layout.
    std::vector<torch::Tensor> h_cpu, a_cpu;
    for (auto l : want.hidden)
      h_cpu.push_back(
          out.hidden_states[static_cast<std::size_t>(l)].to(torch::kCPU, torch::kFloat));
    for (auto l : want.attention)
      a_cpu.push_back(
          out.attentions[static_cast<std::size_t>(l - 1)].to(torch::kCPU, torch::kFloat));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto row = static_cast<std::size_t>(rows[i]);
      const std::int64_t len = offsets[row + 1] - offsets[row];
      const auto k = static_cast<std::int64_t>(i);
      for (std::size_t j = 0; j < h_cpu.size(); ++j)
        token_hidden[j].narrow(0, offsets[row], len).copy_(h_cpu[j][k].narrow(0, 0, len));
      for (std::size_t j = 0; j < a_cpu.size(); ++j)
        attention[j]
            .narrow(0, att_offsets[row], att_offsets[row + 1] - att_offsets[row])
            .copy_(a_cpu[j][k].narrow(1, 0, len).narrow(2, 0, len).reshape({-1}));
    }
  }
  shards::FeatureShard s;
  s.logits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
  shards::Activations cls_stored = stored(cls, c.dtype);
  s.cls_hidden_f16 = std::move(cls_stored.f16);
  s.cls_hidden = std::move(cls_stored.f32);
  s.example_ids = tokens.example_ids;
  if (!want.empty()) s.token_offsets = offsets;
  for (const auto& t : token_hidden) s.token_hidden.push_back(stored(t, c.dtype));
  for (const auto& t : attention) s.attention.push_back(stored(t, c.dtype));
  return s;
}

}  // namespace

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
  const shards::TokenFeatureLayers want = c.token_layers(cfg.num_hidden_layers);

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
  m.token_layers = want;
  m.num_heads = cfg.num_attention_heads;
  m.num_tokens = tokens.num_tokens;
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
                  old.token_layers == m.token_layers && old.shards.size() == tokens.shards.size();
      for (std::size_t i = 0; same && i < old.shards.size(); ++i)
        same = old.shards[i].token_shard_sha256 == tokens.shards[i].sha256;
      if (same) {
        up_to_date = true;
      } else if (!c.overwrite) {
        usage_fail("'", c.out,
                   "' holds features of another teacher, other tokens, another dtype or other "
                   "token-level layers (it has hidden states of ",
                   shards::layer_list(old.token_layers.hidden), ", attention maps of ",
                   shards::layer_list(old.token_layers.attention),
                   "); pass --overwrite to replace them, or choose another --out");
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
    const auto complete = [&] {
      shards::FeatureShardHeader existing = shards::read_feature_shard_header(path);
      if (existing.fingerprint == wanted && existing.dtype == c.dtype &&
          existing.token_layers == want) {
        shards::read_feature_shard(path, {{}, want});
        return true;
      }
      if (!c.overwrite)
        usage_fail("'", path, "' was computed from something else (",
                   existing.fingerprint.differences(wanted), "; dtype ", existing.dtype,
                   ", token-level hidden states of ",
                   shards::layer_list(existing.token_layers.hidden), ", attention maps of ",
                   shards::layer_list(existing.token_layers.attention),
                   "); pass --overwrite to replace it");
      return false;
    };
    if (file_exists(path) && shards::keep_leftover_shard(path, complete, "computing it again"))
      continue;
    shards::TokenShard token_shard = shards::read_token_shard(c.tokens, tokens, i, verification);
    shards::FeatureShard f = compute(teacher, runtime, token_shard, c, want);
    auto& h = f.header;
    h.fingerprint = wanted;
    h.teacher_dir = m.teacher_dir;
    h.token_shard_file = std::filesystem::absolute(c.tokens + "/" + t.file).string();
    h.num_examples = token_shard.size();
    h.num_layers = m.num_layers;
    h.hidden_size = m.hidden_size;
    h.num_labels = m.num_labels;
    h.dtype = c.dtype;
    h.token_layers = want;
    h.num_heads = cfg.num_attention_heads;
    h.num_tokens = token_shard.header.num_tokens;
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
