#include "shards/verify.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"

namespace pkd::shards {
namespace {

std::string short_digest(const std::string& d) {
  return d.size() > 12 ? d.substr(0, 12) + "..." : d;
}

// Settings JSON compared as JSON (key order and spacing are not settings).
bool same_settings(const std::string& a, const std::string& b, const std::string& path) {
  try {
    return nlohmann::json::parse(a) == nlohmann::json::parse(b);
  } catch (const nlohmann::json::exception& e) {
    fail("'", path, "': its settings are not valid JSON: ", e.what());
  }
}

template <class T>
void expect_field(const std::string& path, const char* field, const T& found, const T& expected,
                  const std::string& manifest, const char* hint) {
  if (!(found == expected))
    fail("'", path, "': ", field, " is ", found, ", its manifest '", manifest, "' says ", expected,
         hint);
}

std::string names(const std::vector<std::string>& v) {
  return "[" + join(v, ", ") + "]";
}

}  // namespace

Verification parse_verification(const std::string& name, const std::string& key) {
  if (name == "full") return Verification::kFull;
  if (name == "metadata") return Verification::kMetadata;
  usage_fail(key,
             " must be \"full\" (sha256 of every shard before use) or \"metadata\" (sizes and ",
             "headers only), got \"", name, "\"");
}

h5::File open_verified(const std::string& name, std::shared_ptr<const std::string> bytes,
                       const std::string& sha256) {
  const std::string found = sha256_hex(*bytes);
  if (found != sha256)
    fail("'", name, "' has sha256 ", found, ", its manifest records ", sha256,
         ": the file was damaged or replaced after it was written (re-run the command that made "
         "it)");
  return h5::File::open_image(name, std::move(bytes));
}

h5::File open_verified(const std::string& path, const std::string& sha256, Verification v) {
  if (!file_exists(path)) fail("'", path, "' does not exist but its manifest lists it");
  if (v == Verification::kMetadata) return h5::File::open_read(path);
  return open_verified(path, std::make_shared<const std::string>(read_file(path)), sha256);
}

void check_token_header(const TokenShardHeader& h, const TokenManifest& m, std::size_t i,
                        const std::string& path) {
  const std::string manifest = path.substr(0, path.find_last_of('/') + 1) + kManifestName;
  const ManifestShard& e = m.shards.at(i);
  expect_field(path, "task", h.task, m.task, manifest, "");
  expect_field(path, "split", h.split, m.split, manifest,
               " (a shard of another split copied here?)");
  expect_field(path, "shard_index", h.shard_index, static_cast<std::int64_t>(i), manifest,
               " (shard files swapped or renamed?)");
  expect_field(path, "first_example", h.first_example, e.first_example, manifest, "");
  expect_field(path, "num_examples", h.num_examples, e.num_examples, manifest, "");
  expect_field(path, "num_tokens", h.num_tokens, e.num_tokens, manifest, "");
  expect_field(path, "regression", h.regression, m.regression, manifest, "");
  if (h.label_names != m.label_names)
    fail("'", path, "': label_names are ", names(h.label_names), ", its manifest '", manifest,
         "' says ", names(m.label_names));
  if (!same_settings(h.settings_json, m.settings_json, path))
    fail("'", path, "': its tokenization settings differ from its manifest's '", manifest,
         "': ", join(diff_settings(m.settings_json, h.settings_json), "; "));
}

TokenShardHeader read_token_shard_header(const std::string& dir, const TokenManifest& m,
                                         std::size_t i, Verification v) {
  const std::string path = dir + "/" + m.shards.at(i).file;
  TokenShardHeader h = read_token_shard_header(open_verified(path, m.shards[i].sha256, v));
  check_token_header(h, m, i, path);
  return h;
}

TokenShard read_token_shard(const std::string& dir, const TokenManifest& m, std::size_t i,
                            Verification v) {
  const std::string path = dir + "/" + m.shards.at(i).file;
  const h5::File file = open_verified(path, m.shards[i].sha256, v);
  // The header is checked against the manifest before the datasets are read.
  check_token_header(read_token_shard_header(file), m, i, path);
  return read_token_shard(file);
}

FeatureShard read_feature_shard(const std::string& dir, const FeatureManifest& f,
                                const TokenManifest& tokens, std::size_t i,
                                const FeatureSelection& select, Verification v) {
  const FeatureManifestShard& e = f.shards.at(i);
  const std::string path = dir + "/" + e.file, manifest = dir + "/manifest.json";
  const h5::File file = open_verified(path, e.sha256, v);
  const FeatureShardHeader h = read_feature_shard_header(file);
  // Every shard's fingerprint, not just the first: a shard cached from another teacher or other
  // tokens and dropped beside the right ones is refused here.
  const FeatureFingerprint want{f.teacher_config_sha256, f.teacher_weights_sha256,
                                tokens.shards.at(i).sha256, tokens.settings_json};
  if (h.fingerprint.teacher_config_sha256 != want.teacher_config_sha256 ||
      h.fingerprint.teacher_weights_sha256 != want.teacher_weights_sha256)
    fail("'", path, "' was computed by another teacher (config sha256 ",
         short_digest(h.fingerprint.teacher_config_sha256), ", weights ",
         short_digest(h.fingerprint.teacher_weights_sha256), ") than its manifest '", manifest,
         "' records (", short_digest(want.teacher_config_sha256), ", ",
         short_digest(want.teacher_weights_sha256), "): re-run `pkd cache-teacher --overwrite`");
  if (h.fingerprint.token_shard_sha256 != want.token_shard_sha256)
    fail("'", path, "' was computed from a token shard with sha256 ",
         short_digest(h.fingerprint.token_shard_sha256), ", token shard ", tokens.shards[i].file,
         " has ", short_digest(want.token_shard_sha256), ": re-run `pkd cache-teacher`");
  if (!same_settings(h.fingerprint.token_settings, want.token_settings, path))
    fail("'", path, "' was computed from tokens made with other settings: ",
         join(diff_settings(want.token_settings, h.fingerprint.token_settings), "; "));
  expect_field(path, "num_examples", h.num_examples, e.num_examples, manifest, "");
  expect_field(path, "num_layers", h.num_layers, f.num_layers, manifest, "");
  expect_field(path, "hidden_size", h.hidden_size, f.hidden_size, manifest, "");
  expect_field(path, "num_labels", h.num_labels, f.num_labels, manifest, "");
  expect_field(path, "dtype", h.dtype, f.dtype, manifest, "");
  if (!(h.token_layers == f.token_layers))
    fail("'", path, "' holds token-level hidden states of layers ",
         layer_list(h.token_layers.hidden), " and attention maps of layers ",
         layer_list(h.token_layers.attention), "; its manifest '", manifest, "' records ",
         layer_list(f.token_layers.hidden), " and ", layer_list(f.token_layers.attention),
         ": re-run `pkd cache-teacher --overwrite`");
  if (!f.token_layers.attention.empty())
    expect_field(path, "num_heads", h.num_heads, f.num_heads, manifest, "");
  return read_feature_shard(file, select);
}

bool keep_leftover_shard(const std::string& path, const std::function<bool()>& check,
                         const char* redo) {
  try {
    return check();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    log_warn("'", path, "' is left from an earlier run but does not read back (", e.what(),
             "): ", redo);
    return false;
  }
}

}  // namespace pkd::shards
