#pragma once
// The safetensors format (HuggingFace): an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
// data. The reader memory-maps the file and checks everything before any tensor is touched: a
// hostile or truncated file is a clear Error, never a crash or a huge allocation.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pkd::model {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte range inside the data section
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  // In file order of their data.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The entry's bytes (valid while the file object lives).
  const void* data(const SafetensorsEntry& entry) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  const std::uint8_t* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::size_t data_start_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Bytes per element of a safetensors dtype; 0 when unknown.
std::size_t safetensors_dtype_size(const std::string& dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  const void* data;  // dtype elements, little-endian, contiguous
};

// Writes a safetensors file atomically (temp + rename); the header is padded to 8 bytes.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace pkd::model
