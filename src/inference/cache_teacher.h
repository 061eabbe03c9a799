#pragma once
// `pkd cache-teacher`: the teacher, in eval mode, once over a split's token shards, writing its
// logits and every layer's [CLS] vector to one feature shard per token shard (manifest last) and,
// for the layers asked for, every token's hidden state and the attention probabilities (what
// token-level objectives read). Distillation then never runs the teacher. Ranks share the
// shards; re-runs skip complete ones.
#include <cstdint>
#include <string>

#include "model/runtime.h"
#include "mpi/comm.h"
#include "shards/feature_shard.h"

namespace pkd::inference {

struct CacheTeacherConfig {
  std::string model;              // HuggingFace-format teacher directory
  std::string tokens;             // a `pkd tokenize` split directory
  std::string out;                // feature split directory
  std::string dtype = "float16";  // of [CLS] vectors and token-level features (logits: float32)
  std::int64_t batch_size = 64;   // examples per forward pass (length-sorted, dynamic padding)
  bool overwrite = false;         // replace features made from another teacher or tokens
  std::string layers;             // hidden-state rows stored for every token: "", all, "0,3,6"
  std::string attention_layers;   // layers whose attention probabilities are stored: "", all, ...

  template <class V>
  void visit(V& v) {
    v.field("model", model, "teacher: a HuggingFace-format model directory");
    v.field("tokens", tokens,
            "token split directory (pkd tokenize output, e.g. tokens/SST-2/train)");
    v.field("out", out, "feature split directory to write");
    v.field("dtype", dtype,
            "storage type of the [CLS] vectors and token-level features: float16 or float32");
    v.field("batch_size", batch_size, "examples per forward pass");
    v.field("overwrite", overwrite, "replace features made from another teacher or other tokens");
    v.field("layers", layers,
            "also store every token's hidden state of these rows (0 = embeddings output, l = "
            "layer l): \"0,3,6,9,12\", all, or empty for none; what token-level distillation "
            "reads (the [CLS] vectors of every layer are always stored)");
    v.field("attention_layers", attention_layers,
            "also store the attention probabilities (heads x len x len per example) of these "
            "layers (1..L): \"3,6,9,12\", all, or empty for none");
  }
  void validate() const;
  // `layers` and `attention_layers` for a teacher of `depth` layers; a UsageError naming the key
  // when a layer does not exist.
  shards::TokenFeatureLayers token_layers(std::int64_t depth) const;
};

struct CacheSummary {
  std::int64_t examples = 0, shards = 0, written = 0;
  double seconds = 0;  // wall time of the forward passes and writes (this run)
  bool up_to_date = false;
};

CacheSummary run_cache_teacher(const CacheTeacherConfig& config,
                               const model::RuntimeConfig& runtime, mpi::Comm& comm);

// What a run would write, from the teacher's config.json and the token shards' headers.
struct CacheEstimate {
  std::int64_t examples = 0, tokens = 0, shards = 0;
  std::int64_t cls_bytes = 0;        // logits, example ids and the [CLS] vectors
  std::int64_t hidden_bytes = 0;     // token_hidden_<l> and token_offsets
  std::int64_t attention_bytes = 0;  // attention_<l>
  std::int64_t bytes() const { return cls_bytes + hidden_bytes + attention_bytes; }
};
// `pkd cache-teacher --dry-run`: no forward pass, nothing written; the datasets' bytes as stored
// (HDF5's metadata and checksums aside).
CacheEstimate estimate_cache(const CacheTeacherConfig& config, const model::RuntimeConfig& runtime);
// The estimate as text: bytes in all and per million tokens, by part.
std::string describe_estimate(const CacheEstimate& e, const CacheTeacherConfig& config);

}  // namespace pkd::inference
