#include "shards/manifest.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

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
  TokenManifest m;
  try {
    json j = json::parse(read_file(path));
    if (j.value("format", "") != kManifestFormat)
      fail("'", path, "' is not a pkd token manifest (format '", j.value("format", ""), "')");
    if (j.at("format_version").get<std::int64_t>() != kManifestVersion)
      fail("'", path, "' has format_version ", j.at("format_version").dump(), ", this pkd reads ",
           kManifestVersion);
    m.task = j.at("task");
    m.split = j.at("split");
    m.tool_version = j.at("tool_version");
    m.created_utc = j.at("created_utc");
    m.settings_json = j.at("settings").dump();
    m.label_names = j.at("label_names").get<std::vector<std::string>>();
    m.regression = j.at("regression");
    m.num_examples = j.at("num_examples");
    m.num_tokens = j.at("num_tokens");
    m.num_truncated = j.at("num_truncated");
    m.skipped_lines = j.at("skipped_lines").get<std::vector<std::int64_t>>();
    m.length_histogram = j.at("length_histogram").get<std::vector<std::int64_t>>();
    for (const auto& s : j.at("shards"))
      m.shards.push_back({s.at("file"), s.at("num_examples"), s.at("num_tokens"),
                          s.at("first_example"), s.at("sha256")});
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
