#pragma once
// Internals of the HDF5 layer (h5.h), shared by h5.cpp (errors, types, files), h5_attributes.cpp
// and h5_datasets.cpp: the checking macro every HDF5 call goes through, an owning id, and the
// HDF5 types of h5::Type.
#include <hdf5.h>

#include <string>

#include "core/error.h"
#include "shards/h5.h"

namespace pkd::h5::detail {

// HDF5's error stack as one short line: the operating system's error when HDF5 reports one (a
// full disk reads "No space left on device (errno 28)", not forty lines of cache internals),
// else the first distinct descriptions, innermost first.
std::string error_stack();

// Called before any other HDF5 call. HDF5 prints its error stack to stderr by default; pkd
// reports errors itself. And HDF5 must not run its atexit clean-up: after a failed H5Fclose (a
// full disk) HDF5 1.10 keeps the half-closed file and its clean-up at exit dereferences it
// (SIGSEGV in H5F__close_cb). pkd closes every object itself (RAII), so nothing is lost.
void silence_hdf5();

// Owns an hid_t and closes it with the matching H5*close.
class Id {
 public:
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() {
    if (id_ >= 0) close_(id_);
  }
  operator hid_t() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5's in-memory type of `t` (float16: IEEE 754 binary16, as h5py writes it).
hid_t native(Type t);

// The h5::Type of a C++ element type.
template <class T>
constexpr Type type_of();
template <>
constexpr Type type_of<std::int8_t>() {
  return Type::int8;
}
template <>
constexpr Type type_of<std::int32_t>() {
  return Type::int32;
}
template <>
constexpr Type type_of<std::int64_t>() {
  return Type::int64;
}
template <>
constexpr Type type_of<Half>() {
  return Type::float16;
}
template <>
constexpr Type type_of<float>() {
  return Type::float32;
}
template <>
constexpr Type type_of<double>() {
  return Type::float64;
}

// A variable-length UTF-8 string type (the caller closes it).
hid_t vlen_string_type();

}  // namespace pkd::h5::detail

// Checks an HDF5 return value (herr_t or hid_t): negative means failure.
#define PKD_H5_CHECK(call, ...)                                                   \
  [&]() {                                                                         \
    auto pkd_h5_rc_ = (call);                                                     \
    if (pkd_h5_rc_ < 0)                                                           \
      ::pkd::fail("HDF5: ", __VA_ARGS__, ": ", ::pkd::h5::detail::error_stack()); \
    return pkd_h5_rc_;                                                            \
  }()
