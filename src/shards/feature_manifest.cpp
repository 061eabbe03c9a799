// FEATURES/<split>/manifest.json (format "pkd.feature_manifest"), fingerprints and layer lists.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/json_fields.h"
#include "shards/feature_shard.h"
#include "shards/manifest.h"

namespace pkd::shards {
namespace {

std::vector<std::int64_t> manifest_layers(const JsonFields& j, const std::string& path,
                                          const char* key, std::int64_t lo, std::int64_t hi) {
  std::vector<std::int64_t> layers;
  if (!j.json().contains(key)) return layers;
  for (const auto& v : j.json().at(key)) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
      fail("'", path, "': ", key, " holds ", v.dump(), ", expected layers in ", lo, "..", hi);
    layers.push_back(v.get<std::int64_t>());
  }
  return layers;
}

}  // namespace

std::string layer_list(const std::vector<std::int64_t>& layers) {
  std::string text;
  for (auto l : layers) text += (text.empty() ? "" : ",") + std::to_string(l);
  return text.empty() ? "none" : text;
}

std::string FeatureFingerprint::differences(const FeatureFingerprint& o) const {
  std::vector<std::string> d;
  if (teacher_config_sha256 != o.teacher_config_sha256) d.push_back("teacher config.json differs");
  if (teacher_weights_sha256 != o.teacher_weights_sha256) d.push_back("teacher weights differ");
  if (token_shard_sha256 != o.token_shard_sha256) d.push_back("token shard file differs");
  if (token_settings != o.token_settings) d.push_back("tokenization settings differ");
  return d.empty() ? "identical" : join(d, "; ");
}

void write_feature_manifest(const std::string& dir, const FeatureManifest& m) {
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& s : m.shards)
    shards.push_back({{"file", s.file},
                      {"num_examples", s.num_examples},
                      {"token_shard_sha256", s.token_shard_sha256},
                      {"sha256", s.sha256}});
  nlohmann::json j = {{"format", kFeatureManifestFormat},
                      {"format_version", kFeatureManifestVersion},
                      {"teacher_dir", m.teacher_dir},
                      {"teacher_config_sha256", m.teacher_config_sha256},
                      {"teacher_weights_sha256", m.teacher_weights_sha256},
                      {"token_dir", m.token_dir},
                      {"token_settings", nlohmann::json::parse(m.token_settings)},
                      {"num_layers", m.num_layers},
                      {"hidden_size", m.hidden_size},
                      {"num_labels", m.num_labels},
                      {"num_examples", m.num_examples},
                      {"dtype", m.dtype},
                      {"token_hidden_layers", m.token_layers.hidden},
                      {"attention_layers", m.token_layers.attention},
                      {"num_heads", m.num_heads},
                      {"num_tokens", m.num_tokens},
                      {"tool_version", m.tool_version},
                      {"created_utc", m.created_utc},
                      {"shards", shards}};
  write_file_atomic(dir + "/manifest.json", j.dump(2) + "\n");
}

FeatureManifest read_feature_manifest(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  if (!file_exists(path))
    fail("'", path, "' does not exist: '", dir, "' is not a complete `pkd cache-teacher` output");
  FeatureManifest m;
  try {
    const auto doc = nlohmann::json::parse(read_file(path));
    const JsonFields j(doc, path);
    if (j.json().value("format", "") != kFeatureManifestFormat)
      fail("'", path, "' is not a pkd feature manifest (format '", j.json().value("format", ""),
           "')");
    const auto version = j.count("format_version", 0, 1 << 20);
    if (version != 2 && version != kFeatureManifestVersion)
      fail("'", path, "' has format_version ", version, ", this pkd reads 2 and ",
           kFeatureManifestVersion,
           version < 2 ? " (older manifests lack the shards' checksums): " : ": ",
           "re-run `pkd cache-teacher --overwrite` with this pkd");
    m.teacher_dir = j.text("teacher_dir");
    m.teacher_config_sha256 = j.sha256("teacher_config_sha256");
    m.teacher_weights_sha256 = j.sha256("teacher_weights_sha256");
    m.token_dir = j.text("token_dir");
    m.token_settings = j.json().at("token_settings").dump();
    m.num_layers = j.count("num_layers", 1, kMaxFeatureLayers);
    m.hidden_size = j.count("hidden_size", 1, kMaxFeatureHidden);
    m.num_labels = j.count("num_labels", 1, kMaxFeatureLabels);
    m.num_examples = j.count("num_examples", 0, kMaxFeatureExamples);
    m.dtype = j.text("dtype");
    if (m.dtype != "float16" && m.dtype != "float32")
      fail("'", path, "': dtype is '", m.dtype, "', expected float16 or float32");
    m.tool_version = j.text("tool_version");
    m.created_utc = j.text("created_utc");
    if (version >= 3) {
      m.token_layers.hidden = manifest_layers(j, path, "token_hidden_layers", 0, m.num_layers);
      m.token_layers.attention = manifest_layers(j, path, "attention_layers", 1, m.num_layers);
      m.num_heads = j.count("num_heads", 0, kMaxFeatureHeads);
      m.num_tokens = j.count("num_tokens", 0, kMaxFeatureTokens);
    }
    std::int64_t total = 0;
    for (const auto& entry : j.json().at("shards")) {
      const JsonFields s(entry, cat(path, " shards[", m.shards.size(), "]"));
      FeatureManifestShard shard{s.text("file"), s.count("num_examples", 0, kMaxFeatureExamples),
                                 s.sha256("token_shard_sha256"), s.sha256("sha256")};
      if (shard.file != shard_file_name(static_cast<std::int64_t>(m.shards.size())))
        fail("'", path, "': shard ", m.shards.size(), " is '", shard.file, "', expected '",
             shard_file_name(static_cast<std::int64_t>(m.shards.size())), "'");
      total += shard.num_examples;
      m.shards.push_back(std::move(shard));
    }
    if (total != m.num_examples)
      fail("'", path, "' says num_examples = ", m.num_examples, " but its shards hold ", total);
  } catch (const nlohmann::json::exception& e) {
    fail("'", path, "' is not a valid feature manifest: ", e.what());
  }
  return m;
}

}  // namespace pkd::shards
