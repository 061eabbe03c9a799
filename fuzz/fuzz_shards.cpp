// Opening token and feature shards through the verify-first path (src/shards/verify.h).
// The first input byte picks what the rest is:
//   even: the bytes of a token shard file, checked against the manifest of the seed shard
//     (fuzz/data/shards/manifest.json, of fuzz/data/shards/shard-00000.h5, whose bytes behind a 0
//     byte are the corpus seed): only the seed itself may open; every
//     other input must be refused by the digest, before HDF5 parses it.
//   odd: the values of a well-formed but hostile shard -- attributes (counts, max_seq_length,
//     label names, split, index) and dataset contents (offsets, ids, labels, example ids) taken
//     from the bytes -- written with pkd's own HDF5 writer, recorded in a manifest with its true
//     digest and read back through the same path: what passes the digest must still be refused,
//     by the header-vs-manifest and contents checks, whenever it is inconsistent. Checks: a shard
//     that opens satisfies every invariant training relies on.
#include <unistd.h>
#include <cmath>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/sha256.h"
#include "fuzz_common.h"
#include "shards/verify.h"

using namespace pkd;

namespace {

// Reads little-endian integers from the input, zero past its end.
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint64_t next(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{at_ < size_ ? data_[at_++] : 0u} << (8 * i);
    return v;
  }
  bool empty() const { return at_ >= size_; }

 private:
  const std::uint8_t* data_;
  std::size_t size_, at_ = 0;
};

void check_invariants(const shards::TokenShard& s, const shards::TokenManifest& m) {
  const auto n = static_cast<std::size_t>(s.header.num_examples);
  PKD_FUZZ_CHECK(s.header.num_examples == m.shards[0].num_examples, "count differs from manifest");
  PKD_FUZZ_CHECK(s.offsets.size() == n + 1 && s.example_ids.size() == n, "dataset sizes");
  PKD_FUZZ_CHECK(s.offsets.front() == 0 && s.offsets.back() == s.header.num_tokens, "offsets");
  for (std::size_t k = 0; k < n; ++k) {
    const auto len = s.offsets[k + 1] - s.offsets[k];
    PKD_FUZZ_CHECK(len >= 2 && len <= s.header.max_seq_length, "example length out of range");
    PKD_FUZZ_CHECK(k == 0 || s.example_ids[k] > s.example_ids[k - 1], "ids not increasing");
  }
  for (auto id : s.input_ids) PKD_FUZZ_CHECK(id >= 0 && id < s.header.vocab_size, "token id");
}

// A shard from the input's values: mostly consistent (so the reader gets deep), with every
// field open to a hostile value.
shards::TokenShard hostile_shard(Bytes& in) {
  shards::TokenShard s;
  auto& h = s.header;
  h.task = "SST-2";
  h.split = in.next(1) < 250 ? "train" : "dev";
  h.label_names = {"0", "1"};
  h.settings_json = R"({"max_seq_length":16})";
  h.vocab_size = 1 + static_cast<std::int64_t>(in.next(1));
  h.max_seq_length = static_cast<std::int64_t>(in.next(1)) % 40;
  h.shard_index = in.next(1) < 250 ? 0 : static_cast<std::int64_t>(in.next(8));
  const auto n = static_cast<std::size_t>(in.next(1) % 12);
  std::int64_t id = static_cast<std::int64_t>(in.next(1)) - 8;
  s.offsets.push_back(0);
  for (std::size_t k = 0; k < n; ++k) {
    const auto len = static_cast<std::int64_t>(in.next(1) % 20);
    for (std::int64_t t = 0; t < len; ++t) {
      s.input_ids.push_back(static_cast<std::int32_t>(in.next(1)) - 2);
      s.token_type_ids.push_back(static_cast<std::int8_t>(in.next(1) % 3));
    }
    s.offsets.push_back(s.offsets.back() + len);
    s.labels.push_back(static_cast<std::int64_t>(in.next(1) % 4) - 1);
    id += static_cast<std::int64_t>(in.next(1) % 4) - 1;
    s.example_ids.push_back(id);
  }
  h.num_examples = static_cast<std::int64_t>(n);
  h.num_tokens = static_cast<std::int64_t>(s.input_ids.size());
  if (in.next(1) > 240) h.num_examples = static_cast<std::int64_t>(in.next(8));  // lies
  if (in.next(1) > 240) h.num_tokens = static_cast<std::int64_t>(in.next(8));
  h.length_histogram.assign(
      static_cast<std::size_t>(std::max<std::int64_t>(h.max_seq_length, 0)) + 1, 0);
  if (in.next(1) > 240) h.length_histogram.resize(in.next(1));
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const shards::TokenManifest seed_manifest =
      shards::read_manifest(std::string(PKD_FUZZ_SOURCE_DIR) + "/fuzz/data/shards");
  // A split directory of its own: the manifest names the shard relative to it.
  static const std::string dir = [] {
    const char* root = std::getenv("PKD_FUZZ_SCRATCH");
    std::string d = std::string(root && *root ? root : "/tmp") + "/pkd-fuzz-" +
                    std::to_string(getpid()) + "-shards";
    make_directories(d);
    return d;
  }();
  if (data[0] % 2 == 0) {
    auto bytes =
        std::make_shared<const std::string>(reinterpret_cast<const char*>(data) + 1, size - 1);
    const bool is_seed = sha256_hex(*bytes) == seed_manifest.shards[0].sha256;
    shards::TokenShard s;
    const bool opened = fuzz::expect_ok_or_error("shard-00000.h5", [&] {
      const h5::File f =
          shards::open_verified("shard-00000.h5", bytes, seed_manifest.shards[0].sha256);
      shards::check_token_header(shards::read_token_shard_header(f), seed_manifest, 0,
                                 "shard-00000.h5");
      s = shards::read_token_shard(f);
    });
    PKD_FUZZ_CHECK(opened == is_seed, "a file other than the recorded one was opened");
    if (opened) check_invariants(s, seed_manifest);
    return 0;
  }
  Bytes in(data + 1, size - 1);
  shards::TokenShard s = hostile_shard(in);
  const std::string path = dir + "/shard-00000.h5";
  // Writing may refuse what HDF5 cannot store; that is not what is fuzzed here.
  try {
    shards::write_token_shard(path, s);
  } catch (const Error&) {
    return 0;
  }
  shards::TokenManifest m;
  m.task = "SST-2";
  m.split = "train";
  m.label_names = {"0", "1"};
  m.settings_json = s.header.settings_json;
  m.num_examples = static_cast<std::int64_t>(s.example_ids.size());
  m.num_tokens = static_cast<std::int64_t>(s.input_ids.size());
  m.shards.push_back({"shard-00000.h5", m.num_examples, m.num_tokens, 0, sha256_file(path)});
  shards::TokenShard read;
  if (fuzz::expect_ok_or_error("shard-00000.h5", [&] {
        read = shards::read_token_shard(dir, m, 0, shards::Verification::kFull);
      }))
    check_invariants(read, m);
  return 0;
}
