// The HDF5 layer (h5.h): errors, types, and opening, creating and closing files. Attributes are
// in h5_attributes.cpp, datasets in h5_datasets.cpp.
#include "shards/h5.h"

#include <hdf5.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "shards/h5_detail.h"

namespace pkd::h5 {
namespace detail {
namespace {

// IEEE 754 binary16, little-endian, built from the float32 type as h5py does.
hid_t half_type() {
  static const hid_t type = [] {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    H5Tlock(t);
    return t;
  }();
  return type;
}

}  // namespace

std::string error_stack() {
  std::vector<std::string> descriptions;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* out) -> herr_t {
        auto* all = static_cast<std::vector<std::string>*>(out);
        if (e->desc && *e->desc && std::find(all->begin(), all->end(), e->desc) == all->end())
          all->push_back(e->desc);
        return 0;
      },
      &descriptions);
  H5Eclear2(H5E_DEFAULT);
  for (const auto& d : descriptions) {
    const auto at = d.find("error message = '");
    if (at == std::string::npos) continue;
    const auto begin = at + 17, end = d.find('\'', begin);
    const auto errno_at = d.find("errno = ");
    std::string system =
        d.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    if (errno_at != std::string::npos)
      system += " (errno " + d.substr(errno_at + 8, d.find(',', errno_at) - errno_at - 8) + ")";
    return system;
  }
  if (descriptions.empty()) return "no HDF5 error details";
  if (descriptions.size() > 3) descriptions.resize(3);
  std::string text;
  for (const auto& d : descriptions) text += (text.empty() ? "" : "; ") + d;
  return text;
}

void silence_hdf5() {
  static const bool once = [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

hid_t native(Type t) {
  switch (t) {
    case Type::float16:
      return half_type();
    case Type::int8:
      return H5T_NATIVE_INT8;
    case Type::int32:
      return H5T_NATIVE_INT32;
    case Type::int64:
      return H5T_NATIVE_INT64;
    case Type::float32:
      return H5T_NATIVE_FLOAT;
    case Type::float64:
      return H5T_NATIVE_DOUBLE;
  }
  return -1;
}

hid_t vlen_string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

}  // namespace detail

using detail::error_stack;
using detail::Id;
using detail::silence_hdf5;

File File::create(const std::string& path) {
  silence_hdf5();
  hid_t id = PKD_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                          "cannot create '", path, "'");
  return File(id, path);
}

File File::open_read(const std::string& path) {
  silence_hdf5();
  if (!file_exists(path)) fail("'", path, "' does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    fail("'", path,
         "' is not a readable HDF5 file (truncated, or another format): ", error_stack());
  hid_t id =
      PKD_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "cannot open '", path, "'");
  return File(id, path);
}

namespace {

// HDF5's core (in-memory) driver over a caller's buffer, read-only and without copying it: its
// "allocation" of the image is the buffer itself and "copying" the image onto itself is nothing.
// (What H5LTopen_file_image does with DONT_COPY, without the hl library's per-call leak.) The
// udata is the std::string holding the bytes; File::image_ keeps it alive until the file closes.
void* image_malloc(std::size_t size, H5FD_file_image_op_t, void* udata) {
  auto* bytes = static_cast<std::string*>(udata);
  return size == bytes->size() ? bytes->data() : nullptr;
}
void* image_memcpy(void* dest, const void* src, std::size_t size, H5FD_file_image_op_t, void*) {
  if (dest != src) std::memcpy(dest, src, size);
  return dest;
}
void* image_realloc(void*, std::size_t, H5FD_file_image_op_t, void*) {
  return nullptr;  // the image is read-only: never grown
}
herr_t image_free(void*, H5FD_file_image_op_t, void*) {
  return 0;  // owned by File::image_
}
void* udata_copy(void* udata) {
  return udata;
}
herr_t udata_free(void*) {
  return 0;
}

}  // namespace

File File::open_image(const std::string& name, std::shared_ptr<const std::string> bytes) {
  silence_hdf5();
  if (!bytes || bytes->empty()) fail("'", name, "' is empty: not an HDF5 file");
  H5FD_file_image_callbacks_t callbacks{image_malloc, image_memcpy, image_realloc, image_free,
                                        udata_copy,   udata_free,   nullptr};
  // HDF5 only reads through the pointer (read-only open); the callbacks' signatures are not const.
  callbacks.udata = const_cast<std::string*>(bytes.get());
  Id fapl(PKD_H5_CHECK(H5Pcreate(H5P_FILE_ACCESS), "file access properties"), H5Pclose);
  PKD_H5_CHECK(H5Pset_fapl_core(fapl, 1 << 20, /*backing_store=*/false), "the core driver");
  PKD_H5_CHECK(H5Pset_file_image_callbacks(fapl, &callbacks), "file image callbacks");
  PKD_H5_CHECK(H5Pset_file_image(fapl, const_cast<char*>(bytes->data()), bytes->size()),
               "the file image of '", name, "'");
  // The core driver refuses to open an image under the name of a file that exists on disk: the
  // name it is given is one that cannot exist (a path below /dev/null); messages use `name`.
  hid_t id = H5Fopen("/dev/null/pkd-file-image", H5F_ACC_RDONLY, fapl);
  if (id < 0)
    fail("'", name,
         "' is not a readable HDF5 file (truncated, or another format): ", error_stack());
  return File(id, name, std::move(bytes));
}

File::File(File&& other) noexcept
    : id_(std::exchange(other.id_, -1)),
      path_(std::move(other.path_)),
      image_(std::move(other.image_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0) H5Fclose(id_);
    id_ = std::exchange(other.id_, -1);
    path_ = std::move(other.path_);
    image_ = std::move(other.image_);
  }
  return *this;
}

File::~File() {
  if (id_ >= 0) H5Fclose(id_);
}

void File::close() {
  if (id_ >= 0) {
    hid_t id = std::exchange(id_, -1);
    PKD_H5_CHECK(H5Fclose(id), "cannot close '", path_, "' (data may not be on disk)");
  }
}

}  // namespace pkd::h5
