#pragma once
// A small RAII layer over the HDF5 C API: files, 1-D datasets and attributes. Every HDF5 call is
// checked; a failure throws Error with the file, the object and HDF5's own error stack. HDF5
// types stay out of this header.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace pkd::h5 {

// Element types of datasets. float16 is stored as HDF5's IEEE half type (h5py reads it as
// numpy.float16); in memory it is the raw 16-bit pattern (`Half`).
enum class Type { int8, int32, int64, float16, float32, float64 };

struct Half {
  std::uint16_t bits;
};

// IEEE binary16 -> binary32, exact for every pattern (signed zeros, subnormals, inf, NaN). HDF5
// 1.10 has no hardware half type: letting H5Dread convert runs its generic soft conversion, which
// made reading float16 teacher features most of a GPU training step (pkd_bench_feature_io: 16 vs
// 248 MB/s). This is branch-free float arithmetic (~1 GB/s of half values on one core here).
inline float half_to_float(std::uint16_t h) {
  auto bits_of = [](float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
  };
  auto float_of = [](std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  const std::uint32_t w = static_cast<std::uint32_t>(h) << 16;
  const std::uint32_t sign = w & 0x80000000u;
  const std::uint32_t two_w = w + w;  // exponent and mantissa, sign shifted out
  // Normal numbers (and inf/NaN): move exponent and mantissa into place, then rescale the
  // exponent bias from 15 to 127 with one multiplication (2^-112), which also keeps an all-ones
  // exponent all ones.
  const float normal = float_of((two_w >> 4) + (0xE0u << 23)) * float_of(0x7800000u);
  // Subnormals: the mantissa as the low bits of a float in [0.5, 1), minus 0.5.
  const float subnormal = float_of((two_w >> 17) | (126u << 23)) - 0.5f;
  return float_of(sign | (two_w < (1u << 27) ? bits_of(subnormal) : bits_of(normal)));
}

struct DatasetInfo {
  Type type;
  std::vector<std::int64_t> dims;  // row-major shape
  std::int64_t length;             // number of elements (product of dims)
};

class File {
 public:
  // Creates (truncates) a file for writing.
  static File create(const std::string& path);
  // Opens an existing file read-only; a missing, truncated or non-HDF5 file is a clear Error.
  static File open_read(const std::string& path);
  // Opens a file image held in memory (HDF5's core driver, no copy): the bytes a caller has
  // already checked (shards/verify.h), so that what HDF5 parses is exactly what was hashed.
  // `name` is the file the bytes came from, for messages.
  static File open_image(const std::string& name, std::shared_ptr<const std::string> bytes);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::string& path() const { return path_; }
  void close();

  // Attributes on the root group.
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, const char* value) { set_attr(name, std::string(value)); }
  void set_attr(const std::string& name, std::int64_t value);
  void set_attr(const std::string& name, double value);
  void set_attr(const std::string& name, const std::vector<std::string>& values);
  void set_attr(const std::string& name, const std::vector<std::int64_t>& values);
  bool has_attr(const std::string& name) const;
  std::string attr_string(const std::string& name) const;
  std::int64_t attr_int(const std::string& name) const;
  // attr_int within [lo, hi]: a count read from a file is bounded before anything is sized by it;
  // an Error names the file, the attribute, the value and the range.
  std::int64_t attr_int_in(const std::string& name, std::int64_t lo, std::int64_t hi) const;
  double attr_double(const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& name) const;
  std::vector<std::int64_t> attr_ints(const std::string& name) const;

  // Datasets: chunked, with shuffle -> deflate -> Fletcher32 (checksum last, so corruption reads
  // as a checksum error), or Fletcher32 alone for data that barely compresses (float
  // activations: deflate saves ~22% of them at ~20 MB/s, which made caching a teacher
  // deflate-bound).
  // `dims` is the row-major shape (default: 1-D of data.size()); its product must be data.size().
  enum class Filters { kCompressed, kChecksumOnly };
  template <class T>
  void write(const std::string& name, const std::vector<T>& data,
             std::vector<std::int64_t> dims = {}, Filters filters = Filters::kCompressed);
  bool has_dataset(const std::string& name) const;
  DatasetInfo dataset_info(const std::string& name) const;
  // Reads elements [start, start+count) in row-major order, converted to T; count < 0 means to
  // the end. For datasets of rank > 1 the range must cover whole rows of the first dimension.
  template <class T>
  std::vector<T> read(const std::string& name, std::int64_t start = 0,
                      std::int64_t count = -1) const;

 private:
  File(std::int64_t id, std::string path, std::shared_ptr<const std::string> image = nullptr)
      : id_(id), path_(std::move(path)), image_(std::move(image)) {}
  // Dimensions of `name` checked against the bytes that store it (no allocation sized by
  // unverified metadata); returns the element count.
  std::int64_t checked_length(const std::string& name, const DatasetInfo& info) const;
  std::int64_t id_ = -1;  // hid_t
  std::string path_;
  std::shared_ptr<const std::string> image_;  // open_image's bytes: outlive the HDF5 file id
};

}  // namespace pkd::h5
