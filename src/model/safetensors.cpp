#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"
#include "core/fs.h"

namespace pkd::model {
using nlohmann::json;

namespace {
// A header larger than this is not a model's: refuse before allocating it.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;
// A tensor of more dimensions is not a model weight (BERT's have at most 2).
constexpr std::size_t kMaxRank = 64;
}  // namespace

std::size_t safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)),
      map_(std::exchange(o.map_, nullptr)),
      map_size_(std::exchange(o.map_size_, 0)),
      data_start_(o.data_start_),
      entries_(std::move(o.entries_)),
      metadata_(std::move(o.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (map_) munmap(const_cast<std::uint8_t*>(map_), map_size_);
    path_ = std::move(o.path_);
    map_ = std::exchange(o.map_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
    data_start_ = o.data_start_;
    entries_ = std::move(o.entries_);
    metadata_ = std::move(o.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) munmap(const_cast<std::uint8_t*>(map_), map_size_);
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'", path, "' is not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail("'", path, "' is truncated: ", size, " bytes, a safetensors file has at least 8");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail("cannot map '", path, "': ", std::strerror(errno));
  f.map_ = static_cast<const std::uint8_t*>(map);
  f.map_size_ = size;

  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | f.map_[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    fail("'", path, "' is not a valid safetensors file: its header claims ", header_len,
         " bytes but the file has ", size - 8, " after the length field");
  f.data_start_ = 8 + header_len;
  const std::uint64_t data_size = size - f.data_start_;

  json header;
  try {
    header = json::parse(f.map_ + 8, f.map_ + 8 + header_len);
  } catch (const json::exception& e) {
    fail("'", path, "': the safetensors header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) fail("'", path, "': the safetensors header is not a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("'", path, "': __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) f.metadata_[m.key()] = m.value().get<std::string>();
      continue;
    }
    auto bad = [&](const std::string& what) { fail("'", path, "': tensor '", name, "': ", what); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      bad("expected an object with dtype, shape and data_offsets");
    SafetensorsEntry e;
    e.name = name;
    if (!v["dtype"].is_string()) bad("dtype is not a string");
    e.dtype = v["dtype"].get<std::string>();
    const std::size_t elem = safetensors_dtype_size(e.dtype);
    if (elem == 0) bad("unknown dtype \"" + e.dtype + "\"");
    if (!v["shape"].is_array()) bad("shape is not an array");
    if (v["shape"].size() > kMaxRank)
      bad("shape has " + std::to_string(v["shape"].size()) + " dimensions (at most " +
          std::to_string(kMaxRank) + ")");
    // Elements so far; every partial product stays <= data_size (each factor is checked before
    // it is multiplied), so nothing overflows and count * elem is checked below.
    std::uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      // Non-negative JSON integers parse as unsigned; anything else (-1, 2.5, "3") is refused.
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > std::uint64_t{INT64_MAX})
        bad(std::string("shape has a dimension that is not an integer in 0..2^63-1 (found ") +
            (d.is_number() ? d.dump() : d.type_name()) + ")");  // no dump of a nested array
      const auto dim = d.get<std::uint64_t>();
      e.shape.push_back(static_cast<std::int64_t>(dim));
      if (dim != 0 && count > data_size / dim)
        count = data_size + 1;  // too large; see below
      else
        count *= dim;
    }
    std::uint64_t bytes = 0;
    if (count > data_size || __builtin_mul_overflow(count, elem, &bytes))
      bad("shape " + v["shape"].dump() + " of " + e.dtype + " needs more bytes than the " +
          std::to_string(data_size) + "-byte data section holds");
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      bad("data_offsets must be [begin, end]");
    e.begin = off[0].get<std::uint64_t>();
    e.end = off[1].get<std::uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      bad("data_offsets " + off.dump() + " lie outside the " + std::to_string(data_size) +
          "-byte data section (truncated file?)");
    if (e.end - e.begin != bytes)
      bad("data_offsets span " + std::to_string(e.end - e.begin) + " bytes, but shape " +
          v["shape"].dump() + " of " + e.dtype + " needs " + std::to_string(bytes));
    f.entries_.push_back(std::move(e));
  }
  std::sort(f.entries_.begin(), f.entries_.end(),
            [](const auto& a, const auto& b) { return a.begin < b.begin; });
  // Sorted by begin, a non-empty tensor overlaps an earlier one iff it begins before the furthest
  // end so far (empty tensors, begin == end, overlap nothing).
  const SafetensorsEntry* furthest = nullptr;
  for (const auto& e : f.entries_) {
    if (e.begin == e.end) continue;
    if (furthest && e.begin < furthest->end)
      fail("'", path, "': tensors '", furthest->name, "' and '", e.name,
           "' overlap in the data section");
    if (!furthest || e.end > furthest->end) furthest = &e;
  }
  return f;
}

const void* SafetensorsFile::data(const SafetensorsEntry& entry) const {
  return map_ + data_start_ + entry.begin;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  std::vector<std::uint64_t> sizes;
  for (const auto& t : tensors) {
    std::uint64_t count = 1;
    for (auto d : t.shape) count *= static_cast<std::uint64_t>(d);
    const std::uint64_t bytes = count * safetensors_dtype_size(t.dtype);
    if (safetensors_dtype_size(t.dtype) == 0) fail("write_safetensors: unknown dtype ", t.dtype);
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    sizes.push_back(bytes);
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  write_via_temp(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create '", tmp, "'");
    std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out << text;
    for (std::size_t i = 0; i < tensors.size(); ++i)
      out.write(static_cast<const char*>(tensors[i].data), static_cast<std::streamsize>(sizes[i]));
    out.flush();
    if (!out) fail("write error in '", tmp, "' (disk full?)");
  });
}

}  // namespace pkd::model
