// The pytorch_model.bin reader (src/model/torch_bin.*): the input is the file (a torch.save zip
// archive holding data.pkl and one record per storage). read_torch_bin only takes a path, so the
// bytes go to a scratch file.
// Checks, when it reads: names are unique, every tensor is defined, CPU, with non-negative
// strides, and its view lies inside its storage (checked here, and its first and last elements
// are read by instrumented code so ASan sees an out-of-storage view).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "core/strings.h"
#include "fuzz_common.h"
#include "model/torch_bin.h"

using namespace pkd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::ScratchFile scratch("pytorch_model.bin");
  const std::string& path = scratch.write(data, size);
  const model::TorchBinFormat format = model::detect_torch_bin_format(path);
  if (size >= 4 && std::memcmp(data, "PK\x03\x04", 4) == 0)
    PKD_FUZZ_CHECK(format == model::TorchBinFormat::zip, "a zip archive not detected as one");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  if (!fuzz::expect_ok_or_error(path, [&] { tensors = model::read_torch_bin(path); })) return 0;
  PKD_FUZZ_CHECK(format == model::TorchBinFormat::zip, "a non-zip file was read");
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    PKD_FUZZ_CHECK(names.insert(name).second, "duplicate tensor name " + name);
    PKD_FUZZ_CHECK(t.defined(), "undefined tensor " + name);
    PKD_FUZZ_CHECK(t.device().is_cpu(), "non-CPU tensor " + name);
    if (t.numel() == 0) continue;
    std::int64_t last = t.storage_offset();
    for (std::int64_t d = 0; d < t.dim(); ++d) {
      PKD_FUZZ_CHECK(t.stride(d) >= 0, cat("negative stride in ", name));
      last += (t.size(d) - 1) * t.stride(d);
    }
    const std::int64_t item = static_cast<std::int64_t>(t.element_size());
    PKD_FUZZ_CHECK(t.storage_offset() >= 0 &&
                       (last + 1) * item <= static_cast<std::int64_t>(t.storage().nbytes()),
                   cat(name, ": a view up to element ", last, " of a ", t.storage().nbytes(),
                       "-byte storage"));
    const auto* base = static_cast<const volatile std::uint8_t*>(t.storage().data());
    std::uint8_t x = base[t.storage_offset() * item];
    x ^= base[(last + 1) * item - 1];
    (void)x;
  }
  return 0;
}
