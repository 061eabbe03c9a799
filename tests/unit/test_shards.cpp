#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "shards/feature_shard.h"
#include "shards/h5.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"
#include "support/test_support.h"

namespace pkd::shards {
namespace {

TokenShard small_shard(bool regression = false) {
  TokenShard s;
  auto& h = s.header;
  h.task = "SST-2";
  h.split = "dev";
  h.label_names = regression ? std::vector<std::string>{} : std::vector<std::string>{"0", "1"};
  h.regression = regression;
  h.settings_json = "{\"a\":1}";
  h.vocab_sha256 = "abc";
  h.vocab_size = 30522;
  h.max_seq_length = 8;
  h.num_examples = 2;
  h.num_tokens = 7;
  h.length_histogram = {0, 0, 0, 1, 1, 0, 0, 0, 0};
  h.tool_version = "test";
  s.input_ids = {101, 1037, 102, 101, 1038, 1039, 102};
  s.token_type_ids = {0, 0, 0, 0, 0, 1, 1};
  s.offsets = {0, 3, 7};
  s.labels = {1, -1};
  s.scores = {2.5f, NAN};
  s.example_ids = {0, 5};
  return s;
}

// half_to_float against HDF5's own (slow, reference) conversion, for all 65,536 bit patterns:
// bitwise equal, NaNs as NaNs.
TEST(Half, ConversionEqualsHdf5sForEveryPattern) {
  test::TempDir dir;
  std::vector<h5::Half> all(65536);
  for (std::size_t i = 0; i < all.size(); ++i) all[i].bits = static_cast<std::uint16_t>(i);
  {
    h5::File f = h5::File::create(dir / "half.h5");
    f.write("x", all, {65536});
  }
  const h5::File in = h5::File::open_read(dir / "half.h5");
  const std::vector<float> reference = in.read<float>("x");
  ASSERT_EQ(reference.size(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const float ours = h5::half_to_float(all[i].bits);
    if (std::isnan(reference[i])) {
      EXPECT_TRUE(std::isnan(ours)) << "pattern " << i;
    } else {
      std::uint32_t a, b;
      std::memcpy(&a, &ours, 4);
      std::memcpy(&b, &reference[i], 4);
      ASSERT_EQ(a, b) << "pattern " << i << ": " << ours << " vs " << reference[i];
    }
  }
}

// A feature shard whose dtype attribute lies about cls_hidden's element type is refused by name
// (the float16 path reads raw bits and would otherwise misread float32 data); honest shards of
// both dtypes read back the same values, the float16 one through half_to_float.
TEST(FeatureShard, DtypeMustMatchTheDataset) {
  test::TempDir dir;
  auto write = [&](const std::string& name, const std::string& dtype_attr, bool half_data) {
    h5::File f = h5::File::create(dir / name);
    f.set_attr("format", kFeatureShardFormat);
    f.set_attr("format_version", std::int64_t{1});  // version 1 (no token-level features): read
    for (const char* key :
         {"teacher_config_sha256", "teacher_weights_sha256", "token_shard_sha256", "token_settings",
          "teacher_dir", "token_shard_file", "tool_version", "created_utc"})
      f.set_attr(key, "x");
    f.set_attr("num_examples", std::int64_t{2});
    f.set_attr("num_layers", std::int64_t{1});
    f.set_attr("hidden_size", std::int64_t{3});
    f.set_attr("num_labels", std::int64_t{2});
    f.set_attr("dtype", dtype_attr);
    f.write("logits", std::vector<float>{1, 2, 3, 4}, {2, 2});
    const std::vector<std::int64_t> dims{2, 2, 3};
    if (half_data) {
      std::vector<h5::Half> cls(12, h5::Half{0x3C00});  // 1.0
      cls[11].bits = 0xC000;                            // -2.0: layer 1, example 1, last element
      f.write("cls_hidden", cls, dims);
    } else {
      std::vector<float> cls(12, 1.0f);
      cls[11] = -2.0f;
      f.write("cls_hidden", cls, dims);
    }
    f.write("example_ids", std::vector<std::int64_t>{7, 8});
  };
  write("f32.h5", "float32", false);
  write("f16.h5", "float16", true);
  write("lie.h5", "float16", false);
  for (const char* name : {"f32.h5", "f16.h5"}) {
    const FeatureShard s = read_feature_shard(dir / name, {{1}, {}});
    ASSERT_EQ(s.cls_hidden.size(), 6u) << name;
    EXPECT_EQ(s.cls_hidden[5], -2.0f) << name;
    EXPECT_EQ(s.cls_hidden[0], 1.0f) << name;
  }
  try {
    read_feature_shard(dir / "lie.h5", {{1}, {}});
    FAIL() << "a float32 dataset read as float16";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("lie.h5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dtype = 'float16'"), std::string::npos) << msg;
  }
}

TEST(TokenShard, WriteReadRoundTrip) {
  test::TempDir dir;
  write_token_shard(dir / "s.h5", small_shard());
  TokenShard back = read_token_shard(dir / "s.h5");
  EXPECT_EQ(back.input_ids, small_shard().input_ids);
  EXPECT_EQ(back.token_type_ids, small_shard().token_type_ids);
  EXPECT_EQ(back.offsets, small_shard().offsets);
  EXPECT_EQ(back.labels, small_shard().labels);
  EXPECT_EQ(back.example_ids, small_shard().example_ids);
  EXPECT_EQ(back.header.label_names, small_shard().header.label_names);
  EXPECT_EQ(back.header.settings_json, "{\"a\":1}");
  // Nothing but the final file is left behind.
  EXPECT_EQ(remove_stale_temp_files(dir.path()), 0);
}

TEST(TokenShard, RegressionLabelsAreFloat) {
  test::TempDir dir;
  write_token_shard(dir / "r.h5", small_shard(true));
  TokenShard back = read_token_shard(dir / "r.h5");
  EXPECT_TRUE(back.header.regression);
  EXPECT_TRUE(back.header.label_names.empty());
  EXPECT_FLOAT_EQ(back.scores[0], 2.5f);
  EXPECT_TRUE(std::isnan(back.scores[1]));
}

TEST(TokenShard, CorruptionIsDetected) {
  test::TempDir dir;
  TokenShard s = small_shard();
  s.input_ids.assign(4000, 1037);  // enough data that a flipped byte lands in a chunk
  s.input_ids[0] = 101;
  s.token_type_ids.assign(4000, 0);
  s.offsets = {0, 2000, 4000};
  s.header.num_tokens = 4000;
  s.header.max_seq_length = 2000;
  write_token_shard(dir / "c.h5", s);
  std::string bytes = read_file(dir / "c.h5");
  // Truncated file: a clear error, not a crash.
  test::write_text(dir / "t.h5", bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(read_token_shard(dir / "t.h5"), Error);
  // Not HDF5 at all.
  test::write_text(dir / "n.h5", "hello");
  EXPECT_THROW(read_token_shard(dir / "n.h5"), Error);
  // A flipped byte in the compressed data: Fletcher32 catches it.
  bool detected = false;
  for (std::size_t pos = bytes.size() - 64; pos > bytes.size() / 2 && !detected; pos -= 97) {
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x5a);
    test::write_text(dir / "f.h5", flipped);
    try {
      TokenShard r = read_token_shard(dir / "f.h5");
      detected = r.input_ids != s.input_ids;  // a silent change would be a failure below
      EXPECT_EQ(r.input_ids, s.input_ids) << "a flipped byte changed data without an error";
    } catch (const Error&) {
      detected = true;
    }
  }
  EXPECT_TRUE(detected);
}

TEST(TokenShard, InconsistentContentIsRejected) {
  test::TempDir dir;
  TokenShard s = small_shard();
  s.input_ids[1] = 40000;  // outside the vocabulary
  write_token_shard(dir / "v.h5", s);
  EXPECT_THROW(read_token_shard(dir / "v.h5"), Error);
  s = small_shard();
  s.labels[0] = 2;  // no such class
  write_token_shard(dir / "l.h5", s);
  EXPECT_THROW(read_token_shard(dir / "l.h5"), Error);
}

// A dataset whose dimensions claim 2^40 elements (h5py writes it: chunked, nothing stored) is an
// error naming the dataset, not std::bad_alloc; so is one larger than its deflated bytes allow.
TEST(H5, DimensionsAreCheckedAgainstTheStoredBytes) {
  test::TempDir dir;
  const std::string path = dir / "huge.h5";
  auto r = test::run(test::python() +
                     " -c \"import h5py, numpy as np\n"
                     "f = h5py.File('" +
                     path +
                     "', 'w')\n"
                     "f.create_dataset('x', shape=(2**40,), dtype='i8', chunks=(1024,))\n"
                     "f.create_dataset('z', data=np.zeros(1 << 16, 'i8'), chunks=(1 << 16,),"
                     " compression='gzip')\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const h5::File f = h5::File::open_read(path);
  EXPECT_EQ(f.dataset_info("x").length, std::int64_t{1} << 40);
  const std::string e = test::error_of([&] { f.read<std::int64_t>("x"); });
  EXPECT_NE(e.find("dataset 'x' in '" + path + "' claims 1099511627776 elements of 8 bytes"),
            std::string::npos)
      << e;
  EXPECT_EQ(f.read<std::int64_t>("z").size(), 1u << 16);  // 512 KiB in ~1 KiB deflated: fine
}

TEST(Manifest, RoundTripAndDiff) {
  test::TempDir dir;
  TokenManifest m;
  m.task = "RTE";
  m.split = "dev";
  m.settings_json = "{\"max_seq_length\":128,\"task\":\"RTE\"}";
  m.shards.push_back({"shard-00000.h5", 3, 30, 0, std::string(64, 'f')});
  m.num_examples = 3;
  m.num_tokens = 30;
  write_manifest(dir.path(), m);
  TokenManifest back = read_manifest(dir.path());
  EXPECT_EQ(back.shards.size(), 1u);
  EXPECT_EQ(back.settings_json, m.settings_json);
  auto diff = diff_settings(m.settings_json, "{\"max_seq_length\":64,\"task\":\"RTE\"}");
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0], "max_seq_length: 128 -> 64");
  EXPECT_THROW(read_manifest(dir / "missing"), Error);
  test::write_text(dir / "bad/manifest.json", "{not json");
  EXPECT_THROW(read_manifest(dir / "bad"), Error);
  // Entries must add up, name their own file and carry a digest.
  m.num_examples = 4;
  write_manifest(dir.path(), m);
  EXPECT_NE(test::error_of([&] {
              read_manifest(dir.path());
            }).find("says num_examples = 4 but its shard entries add up to 3"),
            std::string::npos);
  m.num_examples = 3;
  m.shards[0].sha256 = "ff";
  write_manifest(dir.path(), m);
  EXPECT_NE(test::error_of([&] { read_manifest(dir.path()); }).find("expected a sha256 digest"),
            std::string::npos);
}

}  // namespace
}  // namespace pkd::shards
