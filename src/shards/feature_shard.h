#pragma once
// HDF5 teacher-feature shard, format "pkd.feature_shard" version 1 (docs/formats.md): the
// teacher's logits and the [CLS] vector of every layer for the examples of one token shard, in
// the token shard's order. FEATURES/<split>/shard-NNNNN.h5 mirrors TOKENS/<split>/shard-NNNNN.h5;
// FEATURES/<split>/manifest.json (format "pkd.feature_manifest") is written last.
#include <cstdint>
#include <string>
#include <vector>

#include "shards/h5.h"

namespace pkd::shards {

inline constexpr const char* kFeatureShardFormat = "pkd.feature_shard";
inline constexpr std::int64_t kFeatureShardVersion = 1;
inline constexpr const char* kFeatureManifestFormat = "pkd.feature_manifest";
// Version 2 records each feature shard's sha256 (verified before use, shards/verify.h).
inline constexpr std::int64_t kFeatureManifestVersion = 2;

// Identifies what the features were computed from; a reader (distillation) checks it.
struct FeatureFingerprint {
  std::string teacher_config_sha256;   // of config.json's bytes
  std::string teacher_weights_sha256;  // of model.safetensors / pytorch_model.bin
  std::string token_shard_sha256;      // of the token shard file (from its manifest)
  std::string token_settings;          // the token shard's settings JSON

  bool operator==(const FeatureFingerprint& o) const {
    return teacher_config_sha256 == o.teacher_config_sha256 &&
           teacher_weights_sha256 == o.teacher_weights_sha256 &&
           token_shard_sha256 == o.token_shard_sha256 && token_settings == o.token_settings;
  }
  // "teacher weights differ; token shard differs" for error messages.
  std::string differences(const FeatureFingerprint& o) const;
};

struct FeatureShardHeader {
  FeatureFingerprint fingerprint;
  std::string teacher_dir, token_shard_file;
  std::int64_t num_examples = 0;
  std::int64_t num_layers = 0;  // L: cls_hidden has L+1 rows
  std::int64_t hidden_size = 0, num_labels = 0;
  std::string dtype;  // of cls_hidden: "float16" or "float32"
  std::string tool_version, created_utc;
};

struct FeatureShard {
  FeatureShardHeader header;
  std::vector<float> logits;              // [n, num_labels]
  std::vector<float> cls_hidden;          // [L+1, n, H] (read: converted to float32)
  std::vector<h5::Half> cls_hidden_f16;   // [L+1, n, H] when writing float16
  std::vector<std::int64_t> example_ids;  // [n], the token shard's order
};

// FEATURES/<split>/manifest.json: the split's complete feature shards, written last.
struct FeatureManifestShard {
  std::string file;  // same name as the token shard
  std::int64_t num_examples = 0;
  std::string token_shard_sha256;
  std::string sha256;  // of the feature shard file
};

struct FeatureManifest {
  std::string teacher_dir, teacher_config_sha256, teacher_weights_sha256;
  std::string token_dir, token_settings;
  std::int64_t num_layers = 0, hidden_size = 0, num_labels = 0, num_examples = 0;
  std::string dtype, tool_version, created_utc;
  std::vector<FeatureManifestShard> shards;
};

void write_feature_manifest(const std::string& dir, const FeatureManifest& manifest);
// Checks the format, every count and name, and the totals against the shards' entries.
FeatureManifest read_feature_manifest(const std::string& dir);

void write_feature_shard(const std::string& path, const FeatureShard& shard);
// Attributes, with every count within sane bounds.
FeatureShardHeader read_feature_shard_header(const h5::File& file);
// `layers` selects rows of cls_hidden (empty = all), so distillation keeps only what it needs.
// Dataset shapes and types are checked against the attributes before anything is read.
FeatureShard read_feature_shard(const h5::File& file, const std::vector<std::int64_t>& layers = {});
// From a path, unverified: for cache-teacher's own output before its manifest exists. Shards of
// a feature split are read through shards/verify.h.
FeatureShardHeader read_feature_shard_header(const std::string& path);
FeatureShard read_feature_shard(const std::string& path,
                                const std::vector<std::int64_t>& layers = {});

}  // namespace pkd::shards
