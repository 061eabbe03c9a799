#include "report/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>

#include "core/error.h"

namespace pkd::report {
namespace {

constexpr std::uint64_t kZipLimit = std::numeric_limits<std::uint32_t>::max();

void put16(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xffff);
  put16(out, v >> 16);
}

std::uint32_t crc_of(const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* bytes = reinterpret_cast<const Bytef*>(data.data());
  for (std::size_t done = 0; done < data.size();) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(data.size() - done, 1u << 30));
    crc = crc32(crc, bytes + done, n);
    done += n;
  }
  return static_cast<std::uint32_t>(crc);
}

// Raw deflate (no zlib header), as ZIP's method 8 stores it.
std::string deflate_raw(const std::string& data, const std::string& name) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    fail("zlib deflateInit2 failed for zip entry ", name);
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (status != Z_STREAM_END) fail("zlib deflate failed for zip entry ", name, " (", status, ")");
  return out;
}

// DOS date and time (2-second resolution, 1980..2107) of a Unix time, in UTC.
void dos_time(std::time_t t, std::uint32_t& time, std::uint32_t& date) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (tm.tm_year < 80) {
    time = 0;
    date = (1 << 5) | 1;  // 1980-01-01
    return;
  }
  time = static_cast<std::uint32_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  date = static_cast<std::uint32_t>(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
}

// The fields the local and central headers share, from "version needed" to the name's length.
void common_fields(std::string& out, std::uint32_t method, std::uint32_t time, std::uint32_t date,
                   std::uint32_t crc, std::size_t packed, std::size_t size,
                   const std::string& name) {
  put16(out, 20);  // version needed: 2.0 (deflate)
  put16(out, 0);   // flags
  put16(out, method);
  put16(out, time);
  put16(out, date);
  put32(out, crc);
  put32(out, static_cast<std::uint32_t>(packed));
  put32(out, static_cast<std::uint32_t>(size));
  put16(out, static_cast<std::uint32_t>(name.size()));
  put16(out, 0);  // extra field length
}

}  // namespace

std::string zip_archive(const std::vector<ZipEntry>& entries) {
  if (entries.size() > 0xffff)
    fail("a zip archive holds at most 65535 files, got ", entries.size());
  std::string out, central;
  std::set<std::string> names;
  for (const auto& e : entries) {
    if (e.name.empty() || e.name[0] == '/' || e.name.size() > 0xffff)
      fail("zip entry name ", quoted(e.name), " is not a relative path");
    if (!names.insert(e.name).second) fail("zip entry ", e.name, " appears twice");
    if (e.data.size() > kZipLimit)
      fail("zip entry ", e.name, " has ", e.data.size(), " bytes: over ZIP's 4 GiB limit");
    const std::uint32_t crc = crc_of(e.data);
    std::string packed = deflate_raw(e.data, e.name);
    const bool stored = packed.size() >= e.data.size();
    if (stored) packed = e.data;
    const std::uint32_t method = stored ? 0 : 8;
    std::uint32_t time = 0, date = 0;
    dos_time(e.mtime, time, date);
    const std::size_t offset = out.size();
    if (offset > kZipLimit) fail("zip archive is over ZIP's 4 GiB limit at entry ", e.name);

    put32(out, 0x04034b50);  // local file header
    common_fields(out, method, time, date, crc, packed.size(), e.data.size(), e.name);
    out += e.name;
    out += packed;

    put32(central, 0x02014b50);     // central directory header
    put16(central, (3 << 8) | 20);  // made by: Unix, ZIP 2.0
    common_fields(central, method, time, date, crc, packed.size(), e.data.size(), e.name);
    put16(central, 0);               // comment length
    put16(central, 0);               // disk number
    put16(central, 0);               // internal attributes
    put32(central, 0100644u << 16);  // external attributes: regular file, rw-r--r--
    put32(central, static_cast<std::uint32_t>(offset));
    central += e.name;
  }
  if (out.size() + central.size() > kZipLimit) fail("zip archive is over ZIP's 4 GiB limit");
  const std::size_t central_offset = out.size();
  out += central;
  put32(out, 0x06054b50);  // end of central directory
  put16(out, 0);           // this disk
  put16(out, 0);           // disk of the central directory
  put16(out, static_cast<std::uint32_t>(entries.size()));
  put16(out, static_cast<std::uint32_t>(entries.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, static_cast<std::uint32_t>(central_offset));
  put16(out, 0);  // comment length
  return out;
}

}  // namespace pkd::report
