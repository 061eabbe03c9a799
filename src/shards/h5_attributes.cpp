// Attributes of a pkd HDF5 file (h5.h): scalars and short lists, written in place of an older
// value and read back with their element counts bounded before a buffer is sized by them.
#include <hdf5.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "shards/h5.h"
#include "shards/h5_detail.h"

namespace pkd::h5 {

using detail::Id;
using detail::vlen_string_type;

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

}  // namespace pkd::h5
