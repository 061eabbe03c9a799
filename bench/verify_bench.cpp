// The cost of verify-before-use (shards/verify.h) on the distillation loader's hot read: one
// BERT-base teacher-feature shard (13 layers of float16 [CLS] vectors), 5 layers kept (PKD-Skip
// 12 -> 6), read three ways in one run:
//   reference: the unverified read (HDF5 opens the file, reads the 5 layers' rows);
//   full:      bytes read whole, sha256 compared with the manifest, HDF5 opens the image;
//   metadata:  header fields against the manifests only (runtime.verify = "metadata").
// Prints MB/s of file and the ratios against the reference, and SHA-256 throughput alone.
// Usage: pkd_bench_verify [EXAMPLES] [DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/sha256.h"
#include "shards/verify.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Best of `repeats` timings of `f` (the page cache is warm after the first: the disk is not what
// is measured).
template <class F>
double best_of(int repeats, F&& f) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t = Clock::now();
    f();
    best = std::min(best, seconds_since(t));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pkd::shards;
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 4096;
  const std::string dir = argc > 2 ? argv[2] : "/tmp/pkd_bench_verify";
  const std::int64_t layers = 12, hidden = 768, labels = 2;
  pkd::make_directories(dir);

  FeatureShard s;
  auto& h = s.header;
  h.fingerprint = {std::string(64, 'a'), std::string(64, 'b'), std::string(64, 'c'), "{}"};
  h.num_examples = n;
  h.num_layers = layers;
  h.hidden_size = hidden;
  h.num_labels = labels;
  h.dtype = "float16";
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> bits(0x3000, 0x3BFF);  // halves in [0.125, 1)
  s.logits.assign(static_cast<std::size_t>(n * labels), 0.5f);
  s.cls_hidden_f16.resize(static_cast<std::size_t>((layers + 1) * n * hidden));
  for (auto& x : s.cls_hidden_f16) x.bits = static_cast<std::uint16_t>(bits(rng));
  for (std::int64_t i = 0; i < n; ++i) s.example_ids.push_back(i);
  const std::string path = dir + "/" + shard_file_name(0);
  write_feature_shard(path, s);

  TokenManifest tokens;
  tokens.settings_json = "{}";
  tokens.shards.push_back({shard_file_name(0), n, 2 * n, 0, std::string(64, 'c')});
  FeatureManifest features;
  features.teacher_config_sha256 = h.fingerprint.teacher_config_sha256;
  features.teacher_weights_sha256 = h.fingerprint.teacher_weights_sha256;
  features.num_layers = layers;
  features.hidden_size = hidden;
  features.num_labels = labels;
  features.dtype = "float16";
  features.shards.push_back(
      {shard_file_name(0), n, tokens.shards[0].sha256, pkd::sha256_file(path)});

  const std::vector<std::int64_t> keep{2, 4, 6, 8, 10};
  const double mb = static_cast<double>(pkd::read_file(path).size()) / 1e6;
  const int repeats = 5;
  const double reference = best_of(repeats, [&] { read_feature_shard(path, {keep, {}}); });
  const double full = best_of(
      repeats, [&] { read_feature_shard(dir, features, tokens, 0, {keep, {}}, Verification::kFull); });
  const double metadata = best_of(repeats, [&] {
    read_feature_shard(dir, features, tokens, 0, {keep, {}}, Verification::kMetadata);
  });
  const std::string bytes = pkd::read_file(path);
  const double hash = best_of(repeats, [&] { pkd::sha256_hex(bytes); });
  std::printf("feature shard: %lld examples, %.1f MB file, 5 of 13 layers kept\n",
              static_cast<long long>(n), mb);
  std::printf("  reference (unverified read): %8.1f MB/s\n", mb / reference);
  std::printf("  full (sha256 + image):       %8.1f MB/s  ratio %.2fx the reference's time\n",
              mb / full, full / reference);
  std::printf("  metadata (headers only):     %8.1f MB/s  ratio %.2fx the reference's time\n",
              mb / metadata, metadata / reference);
  std::printf("  sha256 alone:                %8.1f MB/s\n", mb / hash);
  std::remove(path.c_str());
  return 0;
}
