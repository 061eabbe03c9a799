#pragma once
// ZIP archives written with zlib: raw deflate and CRC-32, the PKZIP 2.0 subset every unzip reads
// (no ZIP64, no encryption). Enough for GLUE's submission zip: files at the top level.
#include <ctime>
#include <string>
#include <vector>

namespace pkd::report {

struct ZipEntry {
  std::string name;       // path inside the archive: "SST-2.tsv"
  std::string data;       // the file's bytes
  std::time_t mtime = 0;  // modification time, stored as a DOS date and time (UTC)
};

// The archive's bytes: each entry deflated, or stored when deflating does not make it smaller;
// Unix permissions rw-r--r--. Fails on an empty, absolute or duplicate name and beyond ZIP's
// limits (4 GiB per file and archive, 65535 entries).
std::string zip_archive(const std::vector<ZipEntry>& entries);

}  // namespace pkd::report
