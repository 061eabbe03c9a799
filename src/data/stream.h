#pragma once
// Streaming a token split (and, for distillation, its teacher features) window by window, so a
// training rank holds one window of shards in memory instead of the whole split.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/batching.h"
#include "shards/feature_shard.h"
#include "shards/manifest.h"
#include "shards/verify.h"

namespace pkd::data {

// The index of a token split: its manifest, first shard header and every example's length.
// Indexing reads (and, kFull, verifies) every shard against the manifest once, before any work:
// a damaged split fails the job at its start, not in its third epoch.
struct SplitIndex {
  std::string dir;
  shards::TokenManifest manifest;
  shards::TokenShardHeader header;  // the first shard's
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> shard_sizes;
  shards::Verification verification = shards::Verification::kFull;
  // sha256 of what training sees: the settings and every shard's examples (ids, tokens, segments,
  // labels), not file bytes, so re-tokenizing the same data with the same settings keeps it.
  std::string content_sha256;
};
SplitIndex index_split(const std::string& dir, shards::Verification verification);

// Teacher features to attach to the batches: FEATURES/<split>, which rows of cls_hidden
// (0 = embeddings output, l = layer l) the loss needs, and which token-level hidden rows and
// attention layers.
struct FeatureRequest {
  std::string dir;
  std::vector<std::int64_t> layers;
  shards::TokenFeatureLayers tokens;
};

// Checks that the feature split was computed from exactly these token shards (same files,
// sha256, tokenization settings and counts) and holds the requested layers (an error names a
// missing layer and the `pkd cache-teacher` flags that store it); returns its manifest. Errors name
// both directories and the first difference. Each feature shard's own digest and fingerprint are
// checked when it is read (shards/verify.h).
shards::FeatureManifest check_features_match(const SplitIndex& tokens, const FeatureRequest& f);
// Only the token-level part of that check, for a manifest already read.
void check_token_features(const shards::FeatureManifest& m, const FeatureRequest& f);

// One window of shards in memory: tokens and, when requested, teacher features.
class WindowLoader {
 public:
  // `require_labels`: refuse unlabeled examples (training on a test split).
  WindowLoader(const SplitIndex& index, FeatureRequest features, bool require_labels);

  // Makes `shards` the window in memory (a no-op when it already is, in any order).
  void load(const std::vector<std::int64_t>& shards);
  // Whether `shards`, in any order, is the window in memory.
  bool holds(const std::vector<std::int64_t>& shards) const;
  // The padded batch of split examples `examples` (all in the loaded window); with features,
  // batch.teacher_logits [B, C], batch.teacher_cls [layers, B, H] and the requested token-level
  // features, padded like the tokens (float32; zeros at padding).
  Batch collate(const std::vector<std::int64_t>& examples) const;

 private:
  struct Loaded {
    std::int64_t shard;
    shards::TokenShard tokens;
    shards::FeatureShard features;
  };
  void collate_token_features(const std::vector<const Loaded*>& owners,
                              const std::vector<ExampleRef>& refs, Batch& batch) const;
  const SplitIndex& index_;
  FeatureRequest features_;
  shards::FeatureManifest feature_manifest_;  // when features_.dir is set
  bool require_labels_;
  std::vector<std::int64_t> shard_begin_;
  std::vector<std::int64_t> loaded_ids_;
  std::vector<Loaded> loaded_;
};

}  // namespace pkd::data
