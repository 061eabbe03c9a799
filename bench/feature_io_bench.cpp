// Teacher-feature I/O: float16 [CLS] vectors written and read as `pkd cache-teacher` and the
// distillation loader do, against the references they replaced, in one run:
//   write: Fletcher32 only (pkd) vs shuffle + deflate(4) + Fletcher32 (before 2026-11-29);
//   read:  raw half bits + h5::half_to_float (pkd) vs HDF5 converting to float32 itself.
// Prints MB/s of float16 data and the ratios. Usage: pkd_bench_feature_io [EXAMPLES] [DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "shards/h5.h"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  using pkd::h5::File;
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 4096;
  const std::string dir = argc > 2 ? argv[2] : "/tmp";
  const std::int64_t layers = 13, hidden = 768;  // BERT-base: embeddings + 12 layers
  // Activations: float32 normals rounded to float16 (what cache-teacher stores).
  std::vector<pkd::h5::Half> data(static_cast<std::size_t>(layers * n * hidden));
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& h : data) {
    const float x = normal(rng);
    std::uint32_t u;
    std::memcpy(&u, &x, 4);  // truncate to half: sign, exponent rebias, 10 mantissa bits
    const std::uint32_t e = (u >> 23) & 0xFF;
    const std::uint16_t exp16 = e < 113 ? 0 : static_cast<std::uint16_t>(e - 112);
    h.bits = static_cast<std::uint16_t>(((u >> 16) & 0x8000) | (exp16 << 10) | ((u >> 13) & 0x3FF));
  }
  const double mb = static_cast<double>(data.size()) * 2 / 1e6;
  double write_s[2], read_s[2];
  const File::Filters filters[2] = {File::Filters::kChecksumOnly, File::Filters::kCompressed};
  for (int k = 0; k < 2; ++k) {
    const std::string path = dir + "/pkd_bench_features_" + std::to_string(k) + ".h5";
    auto t = Clock::now();
    {
      File f = File::create(path);
      f.write("cls_hidden", data, {layers, n, hidden}, filters[k]);
    }
    write_s[k] = seconds_since(t);
    t = Clock::now();
    const File f = File::open_read(path);
    std::vector<float> out;
    if (k == 0) {  // pkd: 5 of 13 layers (PKD-Skip 12 -> 6), raw bits converted here
      for (std::int64_t l = 2; l <= 10; l += 2) {
        const auto part = f.read<pkd::h5::Half>("cls_hidden", l * n * hidden, n * hidden);
        for (const auto& h : part) out.push_back(pkd::h5::half_to_float(h.bits));
      }
    } else {  // before: HDF5's conversion to float32, same 5 layers
      for (std::int64_t l = 2; l <= 10; l += 2) {
        const auto part = f.read<float>("cls_hidden", l * n * hidden, n * hidden);
        out.insert(out.end(), part.begin(), part.end());
      }
    }
    read_s[k] = seconds_since(t);
    std::remove(path.c_str());
  }
  const double read_mb = mb * 5 / 13;
  std::printf(
      "%lld examples x 13 layers x 768, float16 (%.0f MB):\n"
      "  write: pkd (Fletcher32) %.0f MB/s, before (shuffle+deflate+Fletcher32) %.0f MB/s: %.1fx\n"
      "  read 5 layers: pkd (raw + half_to_float) %.0f MB/s, before (HDF5 conversion) %.0f MB/s: "
      "%.1fx\n",
      static_cast<long long>(n), mb, mb / write_s[0], mb / write_s[1], write_s[1] / write_s[0],
      read_mb / read_s[0], read_mb / read_s[1], read_s[1] / read_s[0]);
  return 0;
}
