// LibTorch must run its matmuls on OpenBLAS: Debian's default reference BLAS is ~10x slower.
// The check reads which libblas the process mapped after a matmul, not a timing.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <string>

// Only Debian's LibTorch takes its BLAS from libblas.so.3; the pip wheels' LibTorch (GPU builds)
// carries MKL inside libtorch_cpu.so.
bool debian_libtorch() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libtorch_cpu.so") != std::string::npos)
      return line.find("/usr/lib/") != std::string::npos;
  return false;
}

TEST(Blas, LibTorchUsesOpenBlas) {
  if (!debian_libtorch()) GTEST_SKIP() << "not Debian's LibTorch (its BLAS is built in)";
  torch::set_num_threads(1);
  auto a = torch::randn({256, 256});
  auto c = torch::mm(a, a);  // forces the BLAS library to be loaded and used
  ASSERT_EQ(c.size(0), 256);
  std::ifstream maps("/proc/self/maps");
  std::string line, blas_lines;
  bool openblas = false, reference = false;
  while (std::getline(maps, line)) {
    if (line.find("blas") == std::string::npos) continue;
    blas_lines += line.substr(line.find('/') == std::string::npos ? 0 : line.find('/')) + "\n";
    if (line.find("openblas") != std::string::npos) openblas = true;
    if (line.find("/blas/libblas") != std::string::npos) reference = true;
  }
  EXPECT_TRUE(openblas) << "LibTorch did not load OpenBLAS; mapped BLAS libraries:\n"
                        << blas_lines << "Run scripts/setup.sh (installs libopenblas0-openmp).";
  EXPECT_FALSE(reference) << "the reference BLAS is loaded:\n" << blas_lines;
}
