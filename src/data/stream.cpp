#include "data/stream.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"

namespace pkd::data {

SplitIndex index_split(const std::string& dir, shards::Verification verification) {
  SplitIndex index;
  index.dir = dir;
  index.verification = verification;
  index.manifest = shards::read_manifest(dir);
  if (index.manifest.shards.empty())
    fail("'", dir, "' has no token shards (its manifest is empty)");
  std::int64_t next_id = 0;  // example ids increase across shards too
  Sha256 content;
  content.update(index.manifest.settings_json);
  auto hash = [&](const auto& v) { content.update(v.data(), v.size() * sizeof(v[0])); };
  for (std::size_t i = 0; i < index.manifest.shards.size(); ++i) {
    const shards::TokenShard s = shards::read_token_shard(dir, index.manifest, i, verification);
    if (i == 0) index.header = s.header;
    if (s.size() > 0 && s.example_ids.front() < next_id)
      fail("'", dir, "/", index.manifest.shards[i].file, "' starts at example id ",
           s.example_ids.front(), ", but the previous shard ends at ", next_id - 1,
           ": shards of this split overlap or are out of order");
    if (s.size() > 0) next_id = s.example_ids.back() + 1;
    index.shard_sizes.push_back(s.size());
    for (const auto* v : {&s.offsets, &s.example_ids, &s.labels}) hash(*v);
    hash(s.input_ids);
    hash(s.token_type_ids);
    hash(s.scores);
    for (std::size_t k = 0; k + 1 < s.offsets.size(); ++k)
      index.lengths.push_back(s.offsets[k + 1] - s.offsets[k]);
  }
  index.content_sha256 = content.hex_digest();
  return index;
}

shards::FeatureManifest check_features_match(const SplitIndex& tokens, const FeatureRequest& f) {
  shards::FeatureManifest m = shards::read_feature_manifest(f.dir);
  auto mismatch = [&](const auto&... what) {
    fail("teacher features '", f.dir, "' do not belong to token split '", tokens.dir,
         "': ", what..., ". Re-run `pkd cache-teacher --tokens ", tokens.dir, " --out ", f.dir,
         "`");
  };
  if (m.token_settings != tokens.manifest.settings_json)
    mismatch("they were computed from tokens made with other settings");
  if (m.shards.size() != tokens.manifest.shards.size())
    mismatch("they have ", m.shards.size(), " shards, the tokens ", tokens.manifest.shards.size());
  if (m.num_examples != tokens.manifest.num_examples)
    mismatch("they hold ", m.num_examples, " examples, the tokens ", tokens.manifest.num_examples);
  for (std::size_t i = 0; i < m.shards.size(); ++i) {
    const auto& fs = m.shards[i];
    const auto& ts = tokens.manifest.shards[i];
    if (fs.file != ts.file || fs.num_examples != ts.num_examples)
      mismatch("feature shard ", i, " is ", fs.file, " with ", fs.num_examples,
               " examples, token shard ", i, " is ", ts.file, " with ", ts.num_examples);
    if (fs.token_shard_sha256 != ts.sha256)
      mismatch(fs.file, " was computed from a token shard with sha256 ",
               fs.token_shard_sha256.substr(0, 12), "..., the token shard now has ",
               ts.sha256.substr(0, 12), "...");
  }
  for (auto l : f.layers)
    if (l < 0 || l > m.num_layers)
      fail("teacher features '", f.dir, "' hold [CLS] vectors of layers 0..", m.num_layers, " (a ",
           m.num_layers, "-layer teacher); layer ", l, " is needed");
  check_token_features(m, f);
  return m;
}

void check_token_features(const shards::FeatureManifest& m, const FeatureRequest& f) {
  auto missing = [](const std::vector<std::int64_t>& want, const std::vector<std::int64_t>& held) {
    std::vector<std::int64_t> out;
    for (auto l : want)
      if (std::find(held.begin(), held.end(), l) == held.end()) out.push_back(l);
    return out;
  };
  const auto hidden = missing(f.tokens.hidden, m.token_layers.hidden);
  const auto attention = missing(f.tokens.attention, m.token_layers.attention);
  if (!hidden.empty() || !attention.empty())
    usage_fail(
        "teacher features '", f.dir, "' lack what the objective needs: ",
        hidden.empty() ? ""
                       : cat("every token's hidden state of rows ", shards::layer_list(hidden),
                             " (they hold ", shards::layer_list(m.token_layers.hidden), ")"),
        !hidden.empty() && !attention.empty() ? "; " : "",
        attention.empty() ? ""
                          : cat("attention probabilities of layers ", shards::layer_list(attention),
                                " (they hold ", shards::layer_list(m.token_layers.attention), ")"),
        ". Re-run `pkd cache-teacher --overwrite --out ", f.dir, "`",
        f.tokens.hidden.empty() ? "" : " --layers " + shards::layer_list(f.tokens.hidden),
        f.tokens.attention.empty()
            ? ""
            : " --attention-layers " + shards::layer_list(f.tokens.attention),
        " (docs/formats.md: token-level features)");
}

WindowLoader::WindowLoader(const SplitIndex& index, FeatureRequest features, bool require_labels)
    : index_(index), features_(std::move(features)), require_labels_(require_labels) {
  if (!features_.dir.empty()) feature_manifest_ = check_features_match(index_, features_);
  shard_begin_ = {0};
  for (auto n : index_.shard_sizes) shard_begin_.push_back(shard_begin_.back() + n);
}

bool WindowLoader::holds(const std::vector<std::int64_t>& shard_ids) const {
  std::vector<std::int64_t> a = shard_ids, b = loaded_ids_;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

void WindowLoader::load(const std::vector<std::int64_t>& shard_ids) {
  // Batches find their shard by id, so the same shards in another order (the next epoch of a
  // split that is one window) are the same window: not read again.
  if (holds(shard_ids)) return;
  loaded_.clear();  // free the previous window before reading the next
  loaded_ids_.clear();
  for (auto id : shard_ids) {
    const auto i = static_cast<std::size_t>(id);
    const std::string path = index_.dir + "/" + index_.manifest.shards[i].file;
    Loaded l{id, shards::read_token_shard(index_.dir, index_.manifest, i, index_.verification), {}};
    if (require_labels_)
      for (std::int64_t k = 0; k < l.tokens.size(); ++k) {
        const auto row = static_cast<std::size_t>(k);
        if (l.tokens.header.regression ? std::isnan(l.tokens.scores[row])
                                       : l.tokens.labels[row] < 0)
          usage_fail("'", path, "' example ", k,
                     " is unlabeled (a test split?): train on a labeled split");
      }
    if (!features_.dir.empty()) {
      const std::string fpath = features_.dir + "/" + feature_manifest_.shards[i].file;
      l.features =
          shards::read_feature_shard(features_.dir, feature_manifest_, index_.manifest, i,
                                     {features_.layers, features_.tokens}, index_.verification);
      if (l.features.example_ids != l.tokens.example_ids)
        fail("'", fpath, "' lists other examples (or another order) than '", path,
             "': re-run `pkd cache-teacher`");
      if (!features_.tokens.empty() && l.features.token_offsets != l.tokens.offsets)
        fail("'", fpath, "' has token_offsets other than the offsets of '", path,
             "': its token-level features do not line up with the tokens; re-run "
             "`pkd cache-teacher --overwrite`");
    }
    loaded_.push_back(std::move(l));
  }
  loaded_ids_ = shard_ids;
}

Batch WindowLoader::collate(const std::vector<std::int64_t>& examples) const {
  std::vector<ExampleRef> refs;
  std::vector<const Loaded*> owners;
  for (auto e : examples) {
    const auto it = std::upper_bound(shard_begin_.begin(), shard_begin_.end(), e) - 1;
    const auto shard = static_cast<std::int64_t>(it - shard_begin_.begin());
    const auto found = std::find_if(loaded_.begin(), loaded_.end(),
                                    [&](const Loaded& l) { return l.shard == shard; });
    if (found == loaded_.end())
      fail("internal: example ", e, " of shard ", shard, " is outside the loaded window");
    refs.push_back({&found->tokens, e - *it});
    owners.push_back(&*found);
  }
  Batch batch = data::collate(refs);
  batch.rows = examples;
  if (features_.dir.empty() || examples.empty()) return batch;
  const auto b = static_cast<std::int64_t>(examples.size());
  const auto c = owners[0]->features.header.num_labels;
  const auto h = owners[0]->features.header.hidden_size;
  const auto layers = static_cast<std::int64_t>(features_.layers.size());
  batch.teacher_logits = torch::empty({b, c}, torch::kFloat);
  batch.teacher_cls = torch::empty({layers, b, h}, torch::kFloat);
  float* logits = batch.teacher_logits.data_ptr<float>();
  float* cls = batch.teacher_cls.data_ptr<float>();
  for (std::int64_t i = 0; i < b; ++i) {
    const shards::FeatureShard& f = owners[static_cast<std::size_t>(i)]->features;
    const std::int64_t row = refs[static_cast<std::size_t>(i)].row, n = f.header.num_examples;
    std::memcpy(logits + i * c, f.logits.data() + row * c,
                sizeof(float) * static_cast<std::size_t>(c));
    for (std::int64_t l = 0; l < layers; ++l)
      std::memcpy(cls + (l * b + i) * h, f.cls_hidden.data() + (l * n + row) * h,
                  sizeof(float) * static_cast<std::size_t>(h));
  }
  if (!features_.tokens.empty()) collate_token_features(owners, refs, batch);
  return batch;
}

// Each example's ragged rows into the padded [layers, B, T, H] / [layers, B, heads, T, T].
void WindowLoader::collate_token_features(const std::vector<const Loaded*>& owners,
                                          const std::vector<ExampleRef>& refs, Batch& batch) const {
  const auto b = static_cast<std::int64_t>(refs.size());
  const std::int64_t t = batch.input_ids.size(1);
  const auto& header = owners[0]->features.header;
  const std::int64_t h = header.hidden_size, heads = header.num_heads;
  const auto hidden_layers = static_cast<std::int64_t>(features_.tokens.hidden.size());
  const auto attention_layers = static_cast<std::int64_t>(features_.tokens.attention.size());
  if (hidden_layers > 0) batch.teacher_hidden = torch::zeros({hidden_layers, b, t, h});
  if (attention_layers > 0)
    batch.teacher_attention = torch::zeros({attention_layers, b, heads, t, t});
  float* hidden = hidden_layers > 0 ? batch.teacher_hidden.data_ptr<float>() : nullptr;
  float* attention = attention_layers > 0 ? batch.teacher_attention.data_ptr<float>() : nullptr;
  for (std::int64_t i = 0; i < b; ++i) {
    const shards::FeatureShard& f = owners[static_cast<std::size_t>(i)]->features;
    const auto row = static_cast<std::size_t>(refs[static_cast<std::size_t>(i)].row);
    const std::int64_t begin = f.token_offsets[row], len = f.token_offsets[row + 1] - begin;
    for (std::int64_t l = 0; l < hidden_layers; ++l)
      f.token_hidden[static_cast<std::size_t>(l)].copy_to(hidden + ((l * b + i) * t) * h, begin * h,
                                                          len * h);
    for (std::int64_t l = 0; l < attention_layers; ++l) {
      const auto& maps = f.attention[static_cast<std::size_t>(l)];
      for (std::int64_t head = 0; head < heads; ++head)
        for (std::int64_t q = 0; q < len; ++q)
          maps.copy_to(attention + (((l * b + i) * heads + head) * t + q) * t,
                       f.attention_offsets[row] + (head * len + q) * len, len);
    }
  }
}

}  // namespace pkd::data
