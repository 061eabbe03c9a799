// Datasets of a pkd HDF5 file (h5.h): chunked, checksummed (Fletcher32) and optionally deflated
// writes; reads of whole datasets or of whole rows, their lengths checked against the stored bytes.
#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "shards/h5.h"
#include "shards/h5_detail.h"

namespace pkd::h5 {

using detail::Id;
using detail::native;
using detail::type_of;

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
