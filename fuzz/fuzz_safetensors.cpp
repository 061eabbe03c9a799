// The safetensors reader (src/model/safetensors.*): the input is the file.
// Checks, when it opens: every entry has a known dtype, begin <= end <= the data section,
// end - begin == numel * dtype size, entries are in data order and do not overlap, and every
// byte of every tensor is readable (ASan checks the mapping). Then a round trip:
// write_safetensors of what was read, reopened, gives the same names, dtypes, shapes, bytes
// and metadata.
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/strings.h"
#include "fuzz_common.h"
#include "model/safetensors.h"

using namespace pkd;

namespace {

std::uint64_t checked_bytes(const model::SafetensorsFile& f, std::uint64_t data_size) {
  std::uint64_t total = 0, previous_begin = 0;
  for (const auto& e : f.entries()) {
    const std::size_t elem = model::safetensors_dtype_size(e.dtype);
    PKD_FUZZ_CHECK(elem > 0, "unknown dtype accepted: " + e.dtype);
    PKD_FUZZ_CHECK(e.begin <= e.end && e.end <= data_size,
                   cat("entry ", e.name, " [", e.begin, ", ", e.end, ") outside ", data_size));
    PKD_FUZZ_CHECK(e.begin >= previous_begin, "entries are not in data order");
    previous_begin = e.begin;
    std::uint64_t numel = 1;
    for (std::int64_t d : e.shape) {
      PKD_FUZZ_CHECK(d >= 0, "negative dimension accepted");
      numel *= static_cast<std::uint64_t>(d);
    }
    PKD_FUZZ_CHECK(e.end - e.begin == numel * elem, "entry size != numel * dtype size");
    // Touch every byte (instrumented reads of the mapping).
    const auto* p = static_cast<const volatile std::uint8_t*>(f.data(e));
    std::uint8_t x = 0;
    for (std::uint64_t i = 0; i < e.end - e.begin; ++i) x ^= p[i];
    (void)x;
    total += e.end - e.begin;
  }
  for (std::size_t i = 1; i < f.entries().size(); ++i) {
    const auto &a = f.entries()[i - 1], &b = f.entries()[i];
    PKD_FUZZ_CHECK(b.begin >= a.end || b.begin == b.end || a.begin == a.end,
                   "overlapping tensors accepted: " + a.name + ", " + b.name);
  }
  return total;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::ScratchFile scratch("model.safetensors"), copy("copy.safetensors");
  const std::string& path = scratch.write(data, size);
  std::optional<model::SafetensorsFile> file;
  if (!fuzz::expect_ok_or_error(path, [&] { file.emplace(model::SafetensorsFile::open(path)); }))
    return 0;
  PKD_FUZZ_CHECK(size >= 8, "a file under 8 bytes opened");
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | data[i];
  PKD_FUZZ_CHECK(header <= size - 8, "the header length exceeds the file");
  const std::uint64_t data_size = size - 8 - header;
  checked_bytes(*file, data_size);

  // Round trip through the writer.
  std::vector<model::SafetensorsTensor> tensors;
  for (const auto& e : file->entries())
    tensors.push_back({e.name, e.dtype, e.shape, file->data(e)});
  fuzz::expect_ok_or_error(
      "", [&] { model::write_safetensors(copy.path(), tensors, file->metadata()); });
  std::optional<model::SafetensorsFile> again;
  fuzz::expect_ok_or_error("", [&] { again.emplace(model::SafetensorsFile::open(copy.path())); });
  PKD_FUZZ_CHECK(again.has_value(), "a file written by write_safetensors does not reopen");
  PKD_FUZZ_CHECK(again->metadata() == file->metadata(), "metadata changed in the round trip");
  PKD_FUZZ_CHECK(again->entries().size() == file->entries().size(), "entry count changed");
  std::map<std::string, const model::SafetensorsEntry*> by_name;
  for (const auto& e : again->entries()) by_name[e.name] = &e;
  for (const auto& e : file->entries()) {
    auto it = by_name.find(e.name);
    PKD_FUZZ_CHECK(it != by_name.end(), "tensor lost in the round trip: " + e.name);
    const auto& r = *it->second;
    PKD_FUZZ_CHECK(r.dtype == e.dtype && r.shape == e.shape, "dtype/shape changed: " + e.name);
    PKD_FUZZ_CHECK(r.end - r.begin == e.end - e.begin, "size changed: " + e.name);
    PKD_FUZZ_CHECK(std::memcmp(again->data(r), file->data(e), e.end - e.begin) == 0,
                   "bytes changed: " + e.name);
  }
  return 0;
}
