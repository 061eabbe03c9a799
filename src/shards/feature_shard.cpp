#include "shards/feature_shard.h"

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "shards/manifest.h"

namespace pkd::shards {

void Activations::copy_to(float* out, std::int64_t start, std::int64_t count) const {
  const auto begin = static_cast<std::size_t>(start), n = static_cast<std::size_t>(count);
  if (f16.empty()) {
    std::copy(f32.begin() + static_cast<std::ptrdiff_t>(begin),
              f32.begin() + static_cast<std::ptrdiff_t>(begin + n), out);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = h5::half_to_float(f16[begin + i].bits);
}

std::vector<std::int64_t> attention_offsets(const std::vector<std::int64_t>& token_offsets,
                                            std::int64_t heads) {
  std::vector<std::int64_t> out{0};
  for (std::size_t k = 0; k + 1 < token_offsets.size(); ++k) {
    const std::int64_t len = token_offsets[k + 1] - token_offsets[k];
    out.push_back(out.back() + heads * len * len);
  }
  return out;
}

void write_feature_shard(const std::string& path, const FeatureShard& s) {
  const FeatureShardHeader& h = s.header;
  write_via_temp(path, [&](const std::string& tmp) {
    h5::File f = h5::File::create(tmp);
    f.set_attr("format", kFeatureShardFormat);
    f.set_attr("format_version", kFeatureShardVersion);
    f.set_attr("teacher_config_sha256", h.fingerprint.teacher_config_sha256);
    f.set_attr("teacher_weights_sha256", h.fingerprint.teacher_weights_sha256);
    f.set_attr("token_shard_sha256", h.fingerprint.token_shard_sha256);
    f.set_attr("token_settings", h.fingerprint.token_settings);
    f.set_attr("teacher_dir", h.teacher_dir);
    f.set_attr("token_shard_file", h.token_shard_file);
    f.set_attr("num_examples", h.num_examples);
    f.set_attr("num_layers", h.num_layers);
    f.set_attr("hidden_size", h.hidden_size);
    f.set_attr("num_labels", h.num_labels);
    f.set_attr("dtype", h.dtype);
    f.set_attr("tool_version", h.tool_version);
    f.set_attr("created_utc", h.created_utc);
    f.write("logits", s.logits, {h.num_examples, h.num_labels});
    const std::vector<std::int64_t> dims{h.num_layers + 1, h.num_examples, h.hidden_size};
    // Activations barely compress: checksummed, not deflated (h5::File::Filters).
    if (h.dtype == "float16")
      f.write("cls_hidden", s.cls_hidden_f16, dims, h5::File::Filters::kChecksumOnly);
    else
      f.write("cls_hidden", s.cls_hidden, dims, h5::File::Filters::kChecksumOnly);
    f.write("example_ids", s.example_ids);
    f.set_attr("token_hidden_layers", h.token_layers.hidden);
    f.set_attr("attention_layers", h.token_layers.attention);
    f.set_attr("num_heads", h.num_heads);
    f.set_attr("num_tokens", h.num_tokens);
    if (!h.token_layers.empty()) f.write("token_offsets", s.token_offsets);
    auto write_activations = [&](const std::string& name, const Activations& a,
                                 std::vector<std::int64_t> dims) {
      if (h.dtype == "float16")
        f.write(name, a.f16, std::move(dims), h5::File::Filters::kChecksumOnly);
      else
        f.write(name, a.f32, std::move(dims), h5::File::Filters::kChecksumOnly);
    };
    for (std::size_t i = 0; i < h.token_layers.hidden.size(); ++i)
      write_activations("token_hidden_" + std::to_string(h.token_layers.hidden[i]),
                        s.token_hidden.at(i), {h.num_tokens, h.hidden_size});
    for (std::size_t i = 0; i < h.token_layers.attention.size(); ++i)
      write_activations("attention_" + std::to_string(h.token_layers.attention[i]),
                        s.attention.at(i), {});
    f.close();
  });
}

FeatureShardHeader read_feature_shard_header(const h5::File& f) {
  const std::string& path = f.path();
  if (!f.has_attr("format") || f.attr_string("format") != kFeatureShardFormat)
    fail("'", path, "' is not a pkd teacher-feature shard (expected attribute format = '",
         kFeatureShardFormat, "')");
  const std::int64_t version = f.attr_int("format_version");
  if (version != 1 && version != kFeatureShardVersion)
    fail("'", path, "' is feature shard format version ", version,
         "; this pkd reads versions 1 and ", kFeatureShardVersion, ": re-run `pkd cache-teacher`");
  FeatureShardHeader h;
  h.fingerprint = {f.attr_string("teacher_config_sha256"), f.attr_string("teacher_weights_sha256"),
                   f.attr_string("token_shard_sha256"), f.attr_string("token_settings")};
  h.teacher_dir = f.attr_string("teacher_dir");
  h.token_shard_file = f.attr_string("token_shard_file");
  h.num_examples = f.attr_int_in("num_examples", 0, kMaxFeatureExamples);
  h.num_layers = f.attr_int_in("num_layers", 1, kMaxFeatureLayers);
  h.hidden_size = f.attr_int_in("hidden_size", 1, kMaxFeatureHidden);
  h.num_labels = f.attr_int_in("num_labels", 1, kMaxFeatureLabels);
  h.dtype = f.attr_string("dtype");
  h.tool_version = f.attr_string("tool_version");
  h.created_utc = f.attr_string("created_utc");
  if (version >= 2) {
    auto layers = [&](const char* name, std::int64_t lo) {
      auto v = f.attr_ints(name);
      for (auto l : v)
        if (l < lo || l > h.num_layers)
          fail("'", path, "': attribute ", name, " holds layer ", l, ", expected ", lo, "..",
               h.num_layers);
      return v;
    };
    h.token_layers.hidden = layers("token_hidden_layers", 0);
    h.token_layers.attention = layers("attention_layers", 1);
    h.num_heads = f.attr_int_in("num_heads", 0, kMaxFeatureHeads);
    h.num_tokens = f.attr_int_in("num_tokens", 0, kMaxFeatureTokens);
    if (!h.token_layers.attention.empty() && h.num_heads < 1)
      fail("'", path, "' holds attention maps but num_heads = ", h.num_heads);
  }
  return h;
}

FeatureShardHeader read_feature_shard_header(const std::string& path) {
  return read_feature_shard_header(h5::File::open_read(path));
}

FeatureShard read_feature_shard(const std::string& path, const FeatureSelection& select) {
  return read_feature_shard(h5::File::open_read(path), select);
}

namespace {

// The selected token-level datasets of `f` into `s` (header read), each checked against the
// attributes before it is read.
void read_token_features(const h5::File& f, const TokenFeatureLayers& want, FeatureShard& s) {
  const std::string& path = f.path();
  const FeatureShardHeader& h = s.header;
  auto require = [&](const std::vector<std::int64_t>& held, std::int64_t l, const char* what) {
    if (std::find(held.begin(), held.end(), l) == held.end())
      fail("'", path, "' holds ", what, " of layers ", layer_list(held), "; layer ", l,
           " is needed: re-run `pkd cache-teacher` with that layer (docs/formats.md)");
  };
  for (auto l : want.hidden) require(h.token_layers.hidden, l, "every token's hidden state");
  for (auto l : want.attention) require(h.token_layers.attention, l, "attention probabilities");
  const h5::Type type = h.dtype == "float16" ? h5::Type::float16 : h5::Type::float32;
  s.token_offsets = f.read<std::int64_t>("token_offsets");
  const auto& o = s.token_offsets;
  if (static_cast<std::int64_t>(o.size()) != h.num_examples + 1 || o.front() != 0 ||
      o.back() != h.num_tokens || !std::is_sorted(o.begin(), o.end()))
    fail("'", path, "': token_offsets are not ", h.num_examples + 1,
         " increasing offsets from 0 to num_tokens = ", h.num_tokens);
  s.attention_offsets = attention_offsets(o, h.num_heads);
  auto read = [&](const std::string& name, std::int64_t length) {
    const h5::DatasetInfo info = f.dataset_info(name);
    if (info.type != type || info.length != length)
      fail("'", path, "': dataset ", name, " holds ", info.length, " elements, expected ", length,
           " of ", h.dtype, " from the attributes");
    Activations a;
    if (h.dtype == "float16")
      a.f16 = f.read<h5::Half>(name);
    else
      a.f32 = f.read<float>(name);
    return a;
  };
  for (auto l : want.hidden)
    s.token_hidden.push_back(
        read("token_hidden_" + std::to_string(l), h.num_tokens * h.hidden_size));
  for (auto l : want.attention)
    s.attention.push_back(read("attention_" + std::to_string(l), s.attention_offsets.back()));
}

}  // namespace

FeatureShard read_feature_shard(const h5::File& f, const FeatureSelection& select) {
  const std::vector<std::int64_t>& layers = select.cls;
  const std::string& path = f.path();
  FeatureShard s;
  s.header = read_feature_shard_header(f);
  const FeatureShardHeader& h = s.header;
  auto expect_dims = [&](const char* name, const std::vector<std::int64_t>& want) {
    auto got = f.dataset_info(name).dims;
    auto text = [](const std::vector<std::int64_t>& d) {
      std::vector<std::string> parts;
      for (auto x : d) parts.push_back(std::to_string(x));
      return "[" + join(parts, ", ") + "]";
    };
    if (got != want)
      fail("'", path, "': dataset ", name, " has shape ", text(got), ", expected ", text(want),
           " from the attributes");
  };
  expect_dims("logits", {h.num_examples, h.num_labels});
  expect_dims("cls_hidden", {h.num_layers + 1, h.num_examples, h.hidden_size});
  expect_dims("example_ids", {h.num_examples});
  // The raw float16 read below trusts the element type: it must be what the attribute says.
  const h5::Type want = h.dtype == "float16" ? h5::Type::float16 : h5::Type::float32;
  if ((h.dtype != "float16" && h.dtype != "float32") || f.dataset_info("cls_hidden").type != want)
    fail("'", path, "': attribute dtype = '", h.dtype,
         "' but dataset cls_hidden is not of that type (expected float16 or float32 and a "
         "matching dataset): re-run `pkd cache-teacher`");
  s.logits = f.read<float>("logits");
  s.example_ids = f.read<std::int64_t>("example_ids");
  const std::int64_t row = h.num_examples * h.hidden_size;
  // Appends `count` [CLS] values from `start` as float32; float16 files are read as raw bits and
  // converted here (see half_to_float: HDF5's own conversion is far slower).
  auto append = [&](std::int64_t start, std::int64_t count) {
    if (h.dtype == "float16") {
      const auto part = f.read<h5::Half>("cls_hidden", start, count);
      const std::size_t at = s.cls_hidden.size();
      s.cls_hidden.resize(at + part.size());
      for (std::size_t i = 0; i < part.size(); ++i)
        s.cls_hidden[at + i] = h5::half_to_float(part[i].bits);
    } else {
      const auto part = f.read<float>("cls_hidden", start, count);
      s.cls_hidden.insert(s.cls_hidden.end(), part.begin(), part.end());
    }
  };
  if (layers.empty()) {
    append(0, (h.num_layers + 1) * row);
  } else {
    for (std::int64_t l : layers) {
      if (l < 0 || l > h.num_layers)
        fail("'", path, "' has [CLS] vectors of layers 0..", h.num_layers, ", layer ", l,
             " was asked for");
      append(l * row, row);
    }
  }
  if (!select.tokens.empty()) read_token_features(f, select.tokens, s);
  return s;
}

}  // namespace pkd::shards
