#include "shards/manifest.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/json_fields.h"

namespace pkd::shards {
using nlohmann::json;

std::string manifest_path(const std::string& split_dir) {
  return split_dir + "/" + kManifestName;
}

std::string shard_file_name(std::int64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shard-%05lld.h5", static_cast<long long>(index));
  return buf;
}

void write_manifest(const std::string& split_dir, const TokenManifest& m) {
  json shards = json::array();
  for (const auto& s : m.shards)
    shards.push_back({{"file", s.file},
                      {"num_examples", s.num_examples},
                      {"num_tokens", s.num_tokens},
                      {"first_example", s.first_example},
                      {"sha256", s.sha256}});
  json j = {{"format", kManifestFormat},
            {"format_version", kManifestVersion},
            {"task", m.task},
            {"split", m.split},
            {"tool_version", m.tool_version},
            {"created_utc", m.created_utc},
            {"settings", json::parse(m.settings_json)},
            {"label_names", m.label_names},
            {"regression", m.regression},
            {"num_examples", m.num_examples},
            {"num_tokens", m.num_tokens},
            {"num_truncated", m.num_truncated},
            {"num_shards", m.shards.size()},
            {"skipped_lines", m.skipped_lines},
            {"length_histogram", m.length_histogram},
            {"shards", shards}};
  write_file_atomic(manifest_path(split_dir), j.dump(2) + "\n");
}

TokenManifest read_manifest(const std::string& split_dir) {
  const std::string path = manifest_path(split_dir);
  if (!file_exists(path))
    fail("'", path, "' does not exist: '", split_dir,
         "' is not a complete `pkd tokenize` split "
         "directory (the manifest is written last; was the run interrupted?)");
  // Bounds on counts, checked before anything is sized by them.
  constexpr std::int64_t kMax = std::int64_t{1} << 40;
  TokenManifest m;
  try {
    const auto doc = json::parse(read_file(path));
    const JsonFields j(doc, path);
    if (doc.value("format", "") != kManifestFormat)
      fail("'", path, "' is not a pkd token manifest (format '", doc.value("format", ""), "')");
    if (const auto v = j.count("format_version", 0, 1 << 20); v != kManifestVersion)
      fail("'", path, "' has format_version ", v, ", this pkd reads ", kManifestVersion);
    m.task = j.text("task");
    m.split = j.text("split");
    m.tool_version = j.text("tool_version");
    m.created_utc = j.text("created_utc");
    if (!j.at("settings").is_object()) fail("'", path, "': \"settings\" is not an object");
    m.settings_json = j.at("settings").dump();
    m.label_names = j.at("label_names").get<std::vector<std::string>>();
    m.regression = j.flag("regression");
    m.num_examples = j.count("num_examples", 0, kMax);
    m.num_tokens = j.count("num_tokens", 0, kMax);
    m.num_truncated = j.count("num_truncated", 0, m.num_examples);
    m.skipped_lines = j.at("skipped_lines").get<std::vector<std::int64_t>>();
    m.length_histogram = j.at("length_histogram").get<std::vector<std::int64_t>>();
    const auto num_shards = j.count("num_shards", 0, kMax);
    // Each entry names the file it must be (no path can leave the split directory) and starts
    // where the previous one ended; the entries add up to the split's totals.
    std::int64_t examples = 0, tokens = 0;
    for (const auto& entry : j.at("shards")) {
      const auto i = static_cast<std::int64_t>(m.shards.size());
      const JsonFields s(entry, cat(path, " shards[", i, "]"));
      ManifestShard shard{s.text("file"), s.count("num_examples", 0, kMax),
                          s.count("num_tokens", 0, kMax), s.count("first_example", 0, kMax),
                          s.sha256("sha256")};
      if (shard.file != shard_file_name(i))
        fail("'", path, "': shard ", i, " is '", shard.file, "', expected '", shard_file_name(i),
             "'");
      if (shard.first_example != examples)
        fail("'", path, "': shard ", i, " starts at example ", shard.first_example, ", expected ",
             examples, " (where shard ", i - 1, " ends)");
      examples += shard.num_examples;
      tokens += shard.num_tokens;
      m.shards.push_back(std::move(shard));
    }
    auto total = [&](const char* key, std::int64_t said, std::int64_t sum) {
      if (said != sum)
        fail("'", path, "' says ", key, " = ", said, " but its shard entries add up to ", sum);
    };
    total("num_shards", num_shards, static_cast<std::int64_t>(m.shards.size()));
    total("num_examples", m.num_examples, examples);
    total("num_tokens", m.num_tokens, tokens);
    std::int64_t histogram = 0;
    for (auto c : m.length_histogram) {
      if (c < 0 || c > kMax) fail("'", path, "': length_histogram has a count of ", c);
      histogram += c;
    }
    if (!m.length_histogram.empty()) total("num_examples", m.num_examples, histogram);
  } catch (const json::exception& e) {
    fail("'", path, "' is not a valid manifest: ", e.what());
  }
  return m;
}

std::vector<std::string> diff_settings(const std::string& existing_json,
                                       const std::string& wanted_json) {
  json a = json::parse(existing_json), b = json::parse(wanted_json);
  std::vector<std::string> out;
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (!a.contains(it.key()))
      out.push_back(cat(it.key(), ": (absent) -> ", it.value().dump()));
    else if (a[it.key()] != it.value())
      out.push_back(cat(it.key(), ": ", a[it.key()].dump(), " -> ", it.value().dump()));
  }
  for (auto it = a.begin(); it != a.end(); ++it)
    if (!b.contains(it.key()))
      out.push_back(cat(it.key(), ": ", it.value().dump(), " -> (absent)"));
  return out;
}

}  // namespace pkd::shards
