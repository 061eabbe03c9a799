// The settings of `pkd cache-teacher` checked and planned: which token-level features it stores
// and, for --dry-run, how many bytes it would write.
#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/strings.h"
#include "inference/cache_teacher.h"
#include "model/bert_config.h"
#include "shards/verify.h"

namespace pkd::inference {
namespace {

// "" = none, "all" = lo..depth, else a comma-separated list; sorted, without duplicates.
std::vector<std::int64_t> parse_layers(const std::string& text, const char* key, std::int64_t lo,
                                       std::int64_t depth) {
  std::vector<std::int64_t> layers;
  if (trim(text).empty()) return layers;
  if (trim(text) == "all") {
    for (std::int64_t l = lo; l <= depth; ++l) layers.push_back(l);
    return layers;
  }
  for (const auto& part : split(text, ',')) {
    std::int64_t layer = -1;
    try {
      std::size_t used = 0;
      layer = std::stoll(std::string(trim(part)), &used);
      if (used != trim(part).size()) layer = -1;
    } catch (const std::exception&) {
      layer = -1;
    }
    if (layer < lo || layer > depth)
      usage_fail("cache_teacher.", key, " = \"", text, "\": '", trim(part), "' is not a layer of ",
                 lo, "..", depth < 0 ? std::string("L") : std::to_string(depth),
                 " (expected all, empty, or a list like \"", lo, ",", lo + 2, "\")");
    layers.push_back(layer);
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

std::string mib(std::int64_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

void CacheTeacherConfig::validate() const {
  if (model.empty()) usage_fail("cache_teacher.model is required: the teacher directory (--model)");
  if (tokens.empty())
    usage_fail("cache_teacher.tokens is required: a token split directory (--tokens)");
  if (out.empty())
    usage_fail("cache_teacher.out is required: the feature directory to write (--out)");
  if (dtype != "float16" && dtype != "float32")
    usage_fail("cache_teacher.dtype must be float16 or float32, got \"", dtype, "\"");
  if (batch_size < 1) usage_fail("cache_teacher.batch_size must be at least 1, got ", batch_size);
  // The syntax now; the range once the teacher's depth is known (token_layers).
  constexpr std::int64_t kAnyDepth = std::int64_t{1} << 20;
  parse_layers(layers, "layers", 0, kAnyDepth);
  parse_layers(attention_layers, "attention_layers", 1, kAnyDepth);
}

shards::TokenFeatureLayers CacheTeacherConfig::token_layers(std::int64_t depth) const {
  return {parse_layers(layers, "layers", 0, depth),
          parse_layers(attention_layers, "attention_layers", 1, depth)};
}

CacheEstimate estimate_cache(const CacheTeacherConfig& c, const model::RuntimeConfig& runtime) {
  c.validate();
  const auto teacher = model::BertConfig::load(c.model + "/config.json");
  const shards::TokenFeatureLayers want = c.token_layers(teacher.num_hidden_layers);
  const shards::TokenManifest tokens = shards::read_manifest(c.tokens);
  const std::int64_t value = c.dtype == "float16" ? 2 : 4;
  CacheEstimate e;
  e.shards = static_cast<std::int64_t>(tokens.shards.size());
  for (std::size_t i = 0; i < tokens.shards.size(); ++i) {
    const auto h = shards::read_token_shard_header(c.tokens, tokens, i, runtime.verification());
    std::int64_t squares = 0;  // sum of len^2: an attention map per head is len x len
    for (std::size_t len = 0; len < h.length_histogram.size(); ++len)
      squares += h.length_histogram[len] * static_cast<std::int64_t>(len * len);
    e.examples += h.num_examples;
    e.tokens += h.num_tokens;
    e.cls_bytes += h.num_examples * (teacher.num_labels * 4 + 8) +
                   (teacher.num_hidden_layers + 1) * h.num_examples * teacher.hidden_size * value;
    if (!want.empty()) e.hidden_bytes += (h.num_examples + 1) * 8;
    e.hidden_bytes +=
        static_cast<std::int64_t>(want.hidden.size()) * h.num_tokens * teacher.hidden_size * value;
    e.attention_bytes += static_cast<std::int64_t>(want.attention.size()) *
                         teacher.num_attention_heads * squares * value;
  }
  return e;
}

std::string describe_estimate(const CacheEstimate& e, const CacheTeacherConfig& c) {
  const double per_million = e.tokens > 0 ? 1e6 / static_cast<double>(e.tokens) : 0;
  auto line = [&](const char* what, std::int64_t bytes) {
    return cat("  ", what, mib(bytes), "  (",
               mib(static_cast<std::int64_t>(static_cast<double>(bytes) * per_million)),
               " per million tokens)\n");
  };
  return cat(c.out, ": would write ", e.shards, " shards, ", e.examples, " examples, ", e.tokens,
             " tokens (", c.dtype, ")\n", line("logits + [CLS] vectors:  ", e.cls_bytes),
             line("token hidden states:     ", e.hidden_bytes),
             line("attention probabilities: ", e.attention_bytes),
             line("total:                   ", e.bytes()));
}

}  // namespace pkd::inference
