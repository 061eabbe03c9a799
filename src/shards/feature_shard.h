#pragma once
// HDF5 teacher-feature shard, format "pkd.feature_shard" version 2 (docs/formats.md): the
// teacher's logits and the [CLS] vector of every layer for the examples of one token shard, in
// the token shard's order; optionally every token's hidden state of chosen layers (ragged, rows
// aligned with the token shard's offsets) and the attention probabilities of chosen layers
// (ragged per example: heads x len x len). FEATURES/<split>/shard-NNNNN.h5 mirrors
// TOKENS/<split>/shard-NNNNN.h5; FEATURES/<split>/manifest.json (format "pkd.feature_manifest") is
// written last.
#include <cstdint>
#include <string>
#include <vector>

#include "shards/h5.h"

namespace pkd::shards {

inline constexpr const char* kFeatureShardFormat = "pkd.feature_shard";
// Version 2 adds the optional token-level datasets (token_hidden_<l>, attention_<l>); version 1
// files (no token-level features) are still read.
inline constexpr std::int64_t kFeatureShardVersion = 2;
inline constexpr const char* kFeatureManifestFormat = "pkd.feature_manifest";
// Version 2 records each feature shard's sha256 (verified before use, shards/verify.h); version 3
// adds what token-level features the shards hold. Versions 2 and 3 are read.
inline constexpr std::int64_t kFeatureManifestVersion = 3;

// Bounds on the counts a feature shard or manifest states, checked before anything is sized by
// them.
inline constexpr std::int64_t kMaxFeatureLayers = 1024, kMaxFeatureHidden = 1 << 16,
                              kMaxFeatureLabels = 1 << 16, kMaxFeatureHeads = 1 << 12;
inline constexpr std::int64_t kMaxFeatureExamples = std::int64_t{1} << 40,
                              kMaxFeatureTokens = std::int64_t{1} << 42;

// Which token-level features a split holds: hidden-state rows (0 = embeddings output, l = layer
// l) stored for every token, and layers (1..L) whose attention probabilities are stored.
struct TokenFeatureLayers {
  std::vector<std::int64_t> hidden;
  std::vector<std::int64_t> attention;
  bool operator==(const TokenFeatureLayers& o) const {
    return hidden == o.hidden && attention == o.attention;
  }
  bool empty() const { return hidden.empty() && attention.empty(); }
};

// What a reader wants of a shard: [CLS] rows (empty = all), token-level hidden rows and attention
// layers (empty = none), each of which the shard must hold.
struct FeatureSelection {
  std::vector<std::int64_t> cls;
  TokenFeatureLayers tokens;
};

// Activations as stored: float16 bits or float32 (one of the two vectors is used), kept in the
// stored type in memory (half the memory of float32 for float16 caches) and converted when a
// batch is collated.
struct Activations {
  std::vector<h5::Half> f16;
  std::vector<float> f32;
  std::size_t size() const { return f16.empty() ? f32.size() : f16.size(); }
  // Elements [start, start + count) as float32 into `out`.
  void copy_to(float* out, std::int64_t start, std::int64_t count) const;
};

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
  std::string dtype;  // of cls_hidden, token_hidden_<l> and attention_<l>: float16 or float32
  std::string tool_version, created_utc;
  // Version 2 (empty / 0 in version 1 files): what token-level datasets the shard holds.
  TokenFeatureLayers token_layers;
  std::int64_t num_heads = 0;   // attention heads (of attention_<l>)
  std::int64_t num_tokens = 0;  // token_offsets[num_examples]: rows of token_hidden_<l>
};

struct FeatureShard {
  FeatureShardHeader header;
  std::vector<float> logits;              // [n, num_labels]
  std::vector<float> cls_hidden;          // [L+1, n, H] (read: converted to float32)
  std::vector<h5::Half> cls_hidden_f16;   // [L+1, n, H] when writing float16
  std::vector<std::int64_t> example_ids;  // [n], the token shard's order
  // With token-level features (header.token_layers not empty): the token shard's offsets, [n+1];
  // example k owns token rows [token_offsets[k], token_offsets[k+1]).
  std::vector<std::int64_t> token_offsets;
  // One entry per selected hidden row (written: header.token_layers.hidden), [num_tokens, H].
  std::vector<Activations> token_hidden;
  // One entry per selected attention layer: example k's [heads, len, len] block starts at
  // attention_offsets[k] (heads * the sum of the squared lengths before it).
  std::vector<Activations> attention;
  std::vector<std::int64_t> attention_offsets;  // [n+1], computed from token_offsets
};

// heads * sum of len^2 before each example: where each example's attention block starts.
std::vector<std::int64_t> attention_offsets(const std::vector<std::int64_t>& token_offsets,
                                            std::int64_t heads);

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
  // Version 3 (empty / 0 when read from version 2): the token-level features of every shard.
  TokenFeatureLayers token_layers;
  std::int64_t num_heads = 0, num_tokens = 0;
};

// "0,3,6" for messages ("none" when empty).
std::string layer_list(const std::vector<std::int64_t>& layers);

void write_feature_manifest(const std::string& dir, const FeatureManifest& manifest);
// Checks the format, every count and name, and the totals against the shards' entries.
FeatureManifest read_feature_manifest(const std::string& dir);

void write_feature_shard(const std::string& path, const FeatureShard& shard);
// Attributes, with every count within sane bounds.
FeatureShardHeader read_feature_shard_header(const h5::File& file);
// `select` picks [CLS] rows, token-level hidden rows and attention layers, so distillation reads
// and keeps only what it needs (each token-level layer is its own dataset). Dataset shapes and
// types are checked against the attributes before anything is read; asking for a layer the
// shard lacks is an Error naming it.
FeatureShard read_feature_shard(const h5::File& file, const FeatureSelection& select = {});
// From a path, unverified: for cache-teacher's own output before its manifest exists. Shards of
// a feature split are read through shards/verify.h.
FeatureShardHeader read_feature_shard_header(const std::string& path);
FeatureShard read_feature_shard(const std::string& path, const FeatureSelection& select = {});

}  // namespace pkd::shards
