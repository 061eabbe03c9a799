// `pkd inspect FEATURES/<split>`: what a `pkd cache-teacher` split holds and what it costs on
// disk, by part and per million tokens (the figure docs/formats.md gives for planning a cache).
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "preprocess/inspect.h"
#include "shards/feature_shard.h"

namespace pkd::preprocess {
namespace {

std::string mib(double bytes) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << bytes / (1 << 20) << " MiB";
  return out.str();
}

}  // namespace

bool is_feature_split(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  if (!file_exists(path)) return false;
  const auto j = nlohmann::json::parse(read_file(path), nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.value("format", "") == shards::kFeatureManifestFormat;
}

std::string inspect_features(const std::string& dir) {
  const shards::FeatureManifest m = shards::read_feature_manifest(dir);
  // Stored bytes of each dataset kind (element counts from the files' metadata), and the files'.
  std::map<std::string, double> parts;
  double file_bytes = 0;
  const double value = m.dtype == "float16" ? 2 : 4;
  for (const auto& s : m.shards) {
    const std::string path = dir + "/" + s.file;
    file_bytes += static_cast<double>(std::filesystem::file_size(path));
    const h5::File f = h5::File::open_read(path);
    parts["logits + [CLS] vectors"] +=
        static_cast<double>(f.dataset_info("logits").length) * 4 +
        static_cast<double>(f.dataset_info("cls_hidden").length) * value;
    for (auto l : m.token_layers.hidden)
      parts["token hidden states"] +=
          static_cast<double>(f.dataset_info("token_hidden_" + std::to_string(l)).length) * value;
    for (auto l : m.token_layers.attention)
      parts["attention probabilities"] +=
          static_cast<double>(f.dataset_info("attention_" + std::to_string(l)).length) * value;
  }
  std::ostringstream out;
  out << dir << ": teacher features (" << shards::kFeatureManifestFormat << ")\n"
      << "  teacher: " << m.teacher_dir << " (" << m.num_layers << " layers, hidden "
      << m.hidden_size << ", " << m.num_labels << " outputs)\n"
      << "  tokens: " << m.token_dir << "\n"
      << "  " << m.num_examples << " examples in " << m.shards.size() << " shards, "
      << (m.num_tokens > 0 ? std::to_string(m.num_tokens) : std::string("? (manifest version 2)"))
      << " tokens, " << m.dtype << "\n"
      << "  [CLS] vectors: rows 0.." << m.num_layers << "\n"
      << "  token hidden states: rows " << shards::layer_list(m.token_layers.hidden) << "\n"
      << "  attention probabilities: layers " << shards::layer_list(m.token_layers.attention)
      << (m.token_layers.attention.empty() ? "" : " (" + std::to_string(m.num_heads) + " heads)")
      << "\n  disk: " << mib(file_bytes) << " in files";
  const double per_million = m.num_tokens > 0 ? 1e6 / static_cast<double>(m.num_tokens) : 0;
  if (per_million > 0) out << ", " << mib(file_bytes * per_million) << " per million tokens";
  out << "\n";
  for (const auto& [name, bytes] : parts) {
    out << "    " << name << ": " << mib(bytes);
    if (per_million > 0) out << " (" << mib(bytes * per_million) << " per million tokens)";
    out << "\n";
  }
  return out.str();
}

}  // namespace pkd::preprocess
