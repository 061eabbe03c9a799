#include "model/zip_directory.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/error.h"

namespace pkd::model {
namespace {

std::uint64_t little_endian(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

// Checks the zip's central directory before LibTorch reads any record: LibTorch allocates each
// record's claimed uncompressed size, so a 4 MB archive could claim 4 GB records (a zip bomb, or
// a corrupted size). torch.save stores its records uncompressed: every record must fit in the
// file. Zip64 sizes (records over 4 GiB) are read from their extra field.
void check_zip_record_sizes(const std::string& path) {
  auto bad = [&](const std::string& what) {
    fail("'", path,
         "' could not be read as a torch.save archive (truncated or corrupted?): ", what);
  };
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(std::max<std::streamoff>(0, in.tellg()));
  auto read_at = [&](std::uint64_t offset, std::uint64_t n) {
    if (offset > file_size || n > file_size - offset) bad("the zip directory points past its end");
    std::string buf(n, '\0');
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(buf.data(), static_cast<std::streamsize>(n));
    if (!in) bad("cannot read the zip directory");
    return buf;
  };
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65535.
  const std::uint64_t tail_size = std::min<std::uint64_t>(file_size, 22 + 65535 + 20);
  const std::string tail = read_at(file_size - tail_size, tail_size);
  std::size_t eocd = std::string::npos;
  for (std::size_t i = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; i-- > 0;)
    if (tail.compare(i, 4, "PK\x05\x06") == 0) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) bad("no zip end-of-central-directory record (truncated?)");
  const auto* e = reinterpret_cast<const unsigned char*>(tail.data()) + eocd;
  std::uint64_t entries = little_endian(e + 10, 2), cd_size = little_endian(e + 12, 4),
                cd_offset = little_endian(e + 16, 4);
  if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {  // zip64
    if (eocd < 20 || tail.compare(eocd - 20, 4, "PK\x06\x07") != 0)
      bad("a zip64 archive without its zip64 locator");
    const std::string e64 = read_at(little_endian(e - 20 + 8, 8), 56);
    if (e64.compare(0, 4, "PK\x06\x06") != 0) bad("a broken zip64 end-of-central-directory");
    const auto* z = reinterpret_cast<const unsigned char*>(e64.data());
    entries = little_endian(z + 32, 8);
    cd_size = little_endian(z + 40, 8);
    cd_offset = little_endian(z + 48, 8);
  }
  if (cd_size > (64u << 20))  // ~100 bytes per record: a state dict's directory is a few KiB
    bad(cat("its zip directory claims ", cd_size, " bytes (at most 64 MiB)"));
  const std::string cd = read_at(cd_offset, cd_size);
  const auto* p = reinterpret_cast<const unsigned char*>(cd.data());
  std::size_t at = 0;
  for (std::uint64_t k = 0; k < entries; ++k) {
    if (cd.size() - at < 46 || cd.compare(at, 4, "PK\x01\x02") != 0)
      bad("a broken zip central directory");
    const std::size_t name_len = little_endian(p + at + 28, 2),
                      extra_len = little_endian(p + at + 30, 2),
                      comment_len = little_endian(p + at + 32, 2);
    if (cd.size() - at - 46 < name_len + extra_len + comment_len)
      bad("a broken zip central directory");
    const std::string name = cd.substr(at + 46, name_len);
    std::uint64_t size = little_endian(p + at + 24, 4);
    if (size == 0xffffffff) {  // the zip64 extra field (id 1) holds the real size first
      for (std::size_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
        const std::size_t id = little_endian(p + x, 2), len = little_endian(p + x + 2, 2);
        if (id == 1 && len >= 8 && x + 4 + 8 <= cd.size()) size = little_endian(p + x + 4, 8);
        x += 4 + len;
      }
    }
    if (size > file_size)
      bad("record '" + name + "' claims " + std::to_string(size) + " bytes, more than the " +
          std::to_string(file_size) + "-byte archive (torch.save stores records uncompressed)");
    at += 46 + name_len + extra_len + comment_len;
  }
}

}  // namespace pkd::model
