#include "data/stream.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/log.h"

namespace pkd::data {

SplitIndex index_split(const std::string& dir) {
  SplitIndex index;
  index.dir = dir;
  index.manifest = shards::read_manifest(dir);
  if (index.manifest.shards.empty())
    fail("'", dir, "' has no token shards (its manifest is empty)");
  for (std::size_t i = 0; i < index.manifest.shards.size(); ++i) {
    const auto& entry = index.manifest.shards[i];
    const std::string path = dir + "/" + entry.file;
    if (i == 0) index.header = shards::read_token_shard_header(path);
    auto lengths = shards::read_token_shard_lengths(path);
    if (static_cast<std::int64_t>(lengths.size()) != entry.num_examples)
      fail("'", path, "' holds ", lengths.size(), " examples; its manifest says ",
           entry.num_examples, ": the split was modified after `pkd tokenize`");
    index.shard_sizes.push_back(entry.num_examples);
    index.lengths.insert(index.lengths.end(), lengths.begin(), lengths.end());
  }
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
  return m;
}

WindowLoader::WindowLoader(const SplitIndex& index, FeatureRequest features, bool require_labels)
    : index_(index), features_(std::move(features)), require_labels_(require_labels) {
  shard_begin_ = {0};
  for (auto n : index_.shard_sizes) shard_begin_.push_back(shard_begin_.back() + n);
}

void WindowLoader::load(const std::vector<std::int64_t>& shard_ids) {
  if (shard_ids == loaded_ids_) return;
  loaded_.clear();  // free the previous window before reading the next
  loaded_ids_.clear();
  for (auto id : shard_ids) {
    const auto& entry = index_.manifest.shards[static_cast<std::size_t>(id)];
    const std::string path = index_.dir + "/" + entry.file;
    Loaded l{id, shards::read_token_shard(path), {}};
    if (require_labels_)
      for (std::int64_t k = 0; k < l.tokens.size(); ++k) {
        const auto row = static_cast<std::size_t>(k);
        if (l.tokens.header.regression ? std::isnan(l.tokens.scores[row])
                                       : l.tokens.labels[row] < 0)
          usage_fail("'", path, "' example ", k,
                     " is unlabeled (a test split?): train on a labeled split");
      }
    if (!features_.dir.empty()) {
      const std::string fpath = features_.dir + "/" + entry.file;
      l.features = shards::read_feature_shard(fpath, features_.layers);
      if (l.features.example_ids != l.tokens.example_ids)
        fail("'", fpath, "' lists other examples (or another order) than '", path,
             "': re-run `pkd cache-teacher`");
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
  return batch;
}

}  // namespace pkd::data
