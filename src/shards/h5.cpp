#include "shards/h5.h"

#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <utility>

#include "core/error.h"
#include "core/fs.h"

namespace pkd::h5 {
namespace {

// HDF5's error stack as one short line: the operating system's error when HDF5 reports one (a
// full disk reads "No space left on device (errno 28)", not forty lines of cache internals),
// else the first distinct descriptions, innermost first.
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

// Called before any other HDF5 call. HDF5 prints its error stack to stderr by default; pkd
// reports errors itself. And HDF5 must not run its atexit clean-up: after a failed H5Fclose (a
// full disk) HDF5 1.10 keeps the half-closed file and its clean-up at exit dereferences it
// (SIGSEGV in H5F__close_cb). pkd closes every object itself (RAII), so nothing is lost.
void silence_hdf5() {
  static const bool once = [] {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

}  // namespace

// Checks an HDF5 return value (herr_t or hid_t): negative means failure.
#define PKD_H5_CHECK(call, ...)                                                  \
  [&]() {                                                                        \
    auto pkd_h5_rc_ = (call);                                                    \
    if (pkd_h5_rc_ < 0) ::pkd::fail("HDF5: ", __VA_ARGS__, ": ", error_stack()); \
    return pkd_h5_rc_;                                                           \
  }()

namespace {

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

hid_t vlen_string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

}  // namespace

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

namespace {

void write_attr(hid_t file, const std::string& path, const std::string& name, hid_t type,
                hid_t space, const void* data) {
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  Id attr(PKD_H5_CHECK(H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                       "cannot create attribute '", name, "' in '", path, "'"),
          H5Aclose);
  if (H5Sget_simple_extent_type(space) == H5S_NULL) return;  // an empty array: no data
  PKD_H5_CHECK(H5Awrite(attr, type, data), "cannot write attribute '", name, "' in '", path, "'");
}

// A 1-D dataspace of n elements; HDF5's null dataspace for an empty array.
hid_t array_space(std::size_t n) {
  hsize_t dims = n;
  return n == 0 ? H5Screate(H5S_NULL) : H5Screate_simple(1, &dims, nullptr);
}

}  // namespace

void File::set_attr(const std::string& name, const std::string& value) {
  Id type(vlen_string_type(), H5Tclose);
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  const char* p = value.c_str();
  write_attr(id_, path_, name, type, space, &p);
}

void File::set_attr(const std::string& name, std::int64_t value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attr(id_, path_, name, H5T_NATIVE_INT64, space, &value);
}

void File::set_attr(const std::string& name, double value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attr(id_, path_, name, H5T_NATIVE_DOUBLE, space, &value);
}

void File::set_attr(const std::string& name, const std::vector<std::string>& values) {
  Id type(vlen_string_type(), H5Tclose);
  Id space(array_space(values.size()), H5Sclose);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  write_attr(id_, path_, name, type, space, ptrs.data());
}

void File::set_attr(const std::string& name, const std::vector<std::int64_t>& values) {
  Id space(array_space(values.size()), H5Sclose);
  write_attr(id_, path_, name, H5T_NATIVE_INT64, space, values.data());
}

bool File::has_attr(const std::string& name) const {
  return H5Aexists(id_, name.c_str()) > 0;
}

namespace {

struct OpenAttr {
  hid_t attr;
  std::int64_t count;
};

OpenAttr open_attr(hid_t file, const std::string& path, const std::string& name) {
  if (H5Aexists(file, name.c_str()) <= 0)
    fail("'", path, "' has no attribute '", name,
         "': not a pkd file of this format, or written "
         "by an incompatible version");
  hid_t attr = PKD_H5_CHECK(H5Aopen(file, name.c_str(), H5P_DEFAULT), "cannot open attribute '",
                            name, "' of '", path, "'");
  Id space(H5Aget_space(attr), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  // pkd's attributes are scalars and short lists (a length histogram has max_seq_length + 1
  // entries): a count beyond this is damage, refused before a buffer is sized by it.
  constexpr hssize_t kMaxAttrElements = 1 << 20;
  if (n < 0 || n > kMaxAttrElements) {
    H5Aclose(attr);
    fail("attribute '", name, "' of '", path, "' claims ", n, " elements (expected at most ",
         kMaxAttrElements, "): the file is damaged");
  }
  return {attr, static_cast<std::int64_t>(n)};
}

}  // namespace

std::vector<std::string> File::attr_strings(const std::string& name) const {
  OpenAttr a = open_attr(id_, path_, name);
  Id attr(a.attr, H5Aclose);
  Id file_type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(file_type) != H5T_STRING)
    fail("attribute '", name, "' of '", path_, "' is not a string");
  Id type(vlen_string_type(), H5Tclose);
  std::vector<char*> ptrs(static_cast<std::size_t>(a.count), nullptr);
  if (a.count == 0) return {};
  PKD_H5_CHECK(H5Aread(attr, type, ptrs.data()), "cannot read attribute '", name, "' of '", path_,
               "'");
  std::vector<std::string> out;
  for (char* p : ptrs) {
    out.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return out;
}

std::string File::attr_string(const std::string& name) const {
  auto values = attr_strings(name);
  if (values.size() != 1) fail("attribute '", name, "' of '", path_, "' is not a single string");
  return values[0];
}

std::vector<std::int64_t> File::attr_ints(const std::string& name) const {
  OpenAttr a = open_attr(id_, path_, name);
  Id attr(a.attr, H5Aclose);
  Id file_type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(file_type) != H5T_INTEGER)
    fail("attribute '", name, "' of '", path_, "' is not an integer");
  std::vector<std::int64_t> out(static_cast<std::size_t>(a.count));
  if (a.count == 0) return out;
  PKD_H5_CHECK(H5Aread(attr, H5T_NATIVE_INT64, out.data()), "cannot read attribute '", name,
               "' of '", path_, "'");
  return out;
}

std::int64_t File::attr_int(const std::string& name) const {
  auto values = attr_ints(name);
  if (values.size() != 1) fail("attribute '", name, "' of '", path_, "' is not a single integer");
  return values[0];
}

std::int64_t File::attr_int_in(const std::string& name, std::int64_t lo, std::int64_t hi) const {
  const std::int64_t v = attr_int(name);
  if (v < lo || v > hi)
    fail("'", path_, "': attribute ", name, " = ", v, ", expected ", lo, "..", hi,
         ": the file is damaged or not written by pkd");
  return v;
}

double File::attr_double(const std::string& name) const {
  OpenAttr a = open_attr(id_, path_, name);
  Id attr(a.attr, H5Aclose);
  if (a.count != 1) fail("attribute '", name, "' of '", path_, "' is not a single number");
  double v = 0;
  PKD_H5_CHECK(H5Aread(attr, H5T_NATIVE_DOUBLE, &v), "cannot read attribute '", name, "' of '",
               path_, "'");
  return v;
}

template <class T>
void File::write(const std::string& name, const std::vector<T>& data,
                 std::vector<std::int64_t> dims, Filters filters) {
  if (dims.empty()) dims = {static_cast<std::int64_t>(data.size())};
  std::int64_t count = 1;
  for (auto d : dims) count *= d;
  if (count != static_cast<std::int64_t>(data.size()))
    fail("internal: dataset '", name, "' has ", data.size(), " elements but its shape holds ",
         count);
  std::vector<hsize_t> shape(dims.begin(), dims.end()), chunk = shape;
  Id space(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), H5Sclose);
  Id props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // ~256 KiB chunks along the first dimension: large enough to compress well, small enough to
  // read a slice cheaply.
  hsize_t row = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) row *= std::max<hsize_t>(1, shape[i]);
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(shape[0], (256 * 1024) / (sizeof(T) * row)));
  for (std::size_t i = 1; i < chunk.size(); ++i) chunk[i] = std::max<hsize_t>(1, chunk[i]);
  PKD_H5_CHECK(H5Pset_chunk(props, static_cast<int>(chunk.size()), chunk.data()), "chunking '",
               name, "'");
  if (filters == Filters::kCompressed) {
    PKD_H5_CHECK(H5Pset_shuffle(props), "shuffle filter for '", name, "'");
    PKD_H5_CHECK(H5Pset_deflate(props, 4), "deflate filter for '", name, "'");
  }
  PKD_H5_CHECK(H5Pset_fletcher32(props), "Fletcher32 filter for '", name, "'");
  Id dset(PKD_H5_CHECK(H5Dcreate2(id_, name.c_str(), native(type_of<T>()), space, H5P_DEFAULT,
                                  props, H5P_DEFAULT),
                       "cannot create dataset '", name, "' in '", path_, "'"),
          H5Dclose);
  if (!data.empty())
    PKD_H5_CHECK(H5Dwrite(dset, native(type_of<T>()), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()),
                 "cannot write dataset '", name, "' in '", path_, "' (disk full?)");
}

bool File::has_dataset(const std::string& name) const {
  return H5Lexists(id_, name.c_str(), H5P_DEFAULT) > 0;
}

DatasetInfo File::dataset_info(const std::string& name) const {
  if (!has_dataset(name)) fail("'", path_, "' has no dataset '", name, "'");
  Id dset(PKD_H5_CHECK(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), "cannot open dataset '", name,
                       "' in '", path_, "'"),
          H5Dclose);
  Id space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > 8) fail("dataset '", name, "' in '", path_, "' has an unsupported rank");
  std::vector<hsize_t> hdims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, hdims.data(), nullptr);
  // Products of unverified dimensions must not overflow: each factor is bounded first.
  constexpr hsize_t kMaxElements = hsize_t{1} << 48;
  std::vector<std::int64_t> dims;
  std::int64_t n = 1;
  for (hsize_t d : hdims) {
    if (d > kMaxElements || (d > 0 && static_cast<hsize_t>(n) > kMaxElements / d))
      fail("dataset '", name, "' in '", path_, "' claims more than 2^48 elements: the file is ",
           "damaged");
    dims.push_back(static_cast<std::int64_t>(d));
    n *= static_cast<std::int64_t>(d);
  }
  Id type(H5Dget_type(dset), H5Tclose);
  H5T_class_t cls = H5Tget_class(type);
  std::size_t size = H5Tget_size(type);
  Type t;
  if (cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2)
    t = size == 1 ? Type::int8 : size == 4 ? Type::int32 : Type::int64;
  else if (cls == H5T_FLOAT)
    t = size == 2 ? Type::float16 : size == 4 ? Type::float32 : Type::float64;
  else
    fail("dataset '", name, "' in '", path_, "' has an unsupported element type");
  return {t, dims, n};
}

// zlib's best case is about 1032:1 (a long run of one byte), so a deflated dataset cannot hold
// more bytes than this many times its stored size.
constexpr std::int64_t kMaxDeflateRatio = 1100;

std::int64_t File::checked_length(const std::string& name, const DatasetInfo& info) const {
  Id dset(PKD_H5_CHECK(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), "cannot open dataset '", name,
                       "' in '", path_, "'"),
          H5Dclose);
  Id type(H5Dget_type(dset), H5Tclose);
  Id dcpl(H5Dget_create_plist(dset), H5Pclose);
  bool deflated = false;
  const int filters = H5Pget_nfilters(dcpl);
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0;
    std::size_t nelmts = 0;
    if (H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &nelmts, nullptr, 0, nullptr,
                       nullptr) == H5Z_FILTER_DEFLATE)
      deflated = true;
  }
  std::int64_t file_size = 0;
  if (image_) {
    file_size = static_cast<std::int64_t>(image_->size());
  } else {
    std::error_code ec;
    file_size = static_cast<std::int64_t>(std::filesystem::file_size(path_, ec));
    if (ec) fail("cannot stat '", path_, "': ", ec.message());
  }
  const auto stored =
      std::min<std::int64_t>(static_cast<std::int64_t>(H5Dget_storage_size(dset)), file_size);
  const auto element = static_cast<std::int64_t>(H5Tget_size(type));
  const std::int64_t limit = deflated ? stored * kMaxDeflateRatio : stored;
  if (element <= 0 || info.length > (limit + element - 1) / element)
    fail("dataset '", name, "' in '", path_, "' claims ", info.length, " elements of ", element,
         " bytes, but its stored data (", stored, " bytes", deflated ? ", deflated" : "",
         ") cannot hold them: the file is damaged");
  return info.length;
}

template <class T>
std::vector<T> File::read(const std::string& name, std::int64_t start, std::int64_t count) const {
  DatasetInfo info = dataset_info(name);
  checked_length(name, info);
  if (count < 0) count = info.length - start;
  if (start < 0 || count < 0 || start + count > info.length)
    fail("cannot read [", start, ", ", start + count, ") of dataset '", name, "' in '", path_,
         "': it has ", info.length, " elements");
  std::vector<T> out(static_cast<std::size_t>(count));
  if (count == 0) return out;
  Id dset(PKD_H5_CHECK(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), "cannot open dataset '", name,
                       "' in '", path_, "'"),
          H5Dclose);
  if (start == 0 && count == info.length) {
    PKD_H5_CHECK(H5Dread(dset, native(type_of<T>()), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
                 "cannot read dataset '", name, "' of '", path_, "' (corrupted file?)");
    return out;
  }
  // A partial read selects whole rows along the first dimension.
  std::int64_t row = 1;
  for (std::size_t i = 1; i < info.dims.size(); ++i) row *= info.dims[i];
  if (row == 0 || start % row != 0 || count % row != 0)
    fail("internal: partial read of '", name, "' is not made of whole rows");
  Id file_space(H5Dget_space(dset), H5Sclose);
  std::vector<hsize_t> offset(info.dims.size(), 0), extent(info.dims.begin(), info.dims.end());
  offset[0] = static_cast<hsize_t>(start / row);
  extent[0] = static_cast<hsize_t>(count / row);
  PKD_H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr,
                                   extent.data(), nullptr),
               "selecting a slice of '", name, "'");
  // The memory space has the selection's own shape: a 1-D memory space of a multi-dimensional
  // selection sends HDF5 down an element-wise path (~17x slower for a [1, n, 768] slice).
  Id mem_space(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr), H5Sclose);
  PKD_H5_CHECK(H5Dread(dset, native(type_of<T>()), mem_space, file_space, H5P_DEFAULT, out.data()),
               "cannot read dataset '", name, "' of '", path_, "' (corrupted file?)");
  return out;
}

using Dims = std::vector<std::int64_t>;
template void File::write(const std::string&, const std::vector<std::int8_t>&, Dims, Filters);
template void File::write(const std::string&, const std::vector<std::int32_t>&, Dims, Filters);
template void File::write(const std::string&, const std::vector<std::int64_t>&, Dims, Filters);
template void File::write(const std::string&, const std::vector<Half>&, Dims, Filters);
template void File::write(const std::string&, const std::vector<float>&, Dims, Filters);
template void File::write(const std::string&, const std::vector<double>&, Dims, Filters);
template std::vector<std::int8_t> File::read(const std::string&, std::int64_t, std::int64_t) const;
template std::vector<std::int32_t> File::read(const std::string&, std::int64_t, std::int64_t) const;
template std::vector<std::int64_t> File::read(const std::string&, std::int64_t, std::int64_t) const;
template std::vector<Half> File::read(const std::string&, std::int64_t, std::int64_t) const;
template std::vector<float> File::read(const std::string&, std::int64_t, std::int64_t) const;
template std::vector<double> File::read(const std::string&, std::int64_t, std::int64_t) const;

}  // namespace pkd::h5
