#include "core/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace pkd {
namespace stdfs = std::filesystem;

std::string read_file(const std::string& path) {
  if (is_directory(path)) fail("'", path, "' is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read '", path, "': ", std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) fail("read error in '", path, "'");
  return out.str();
}

std::string temp_path_for(const std::string& final_path) {
  static std::atomic<int> counter{0};
  return cat(final_path, ".tmp.", ::getpid(), ".", counter++);
}

void commit_file(const std::string& from, const std::string& to) {
  int fd = ::open(from.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  if (std::rename(from.c_str(), to.c_str()) != 0)
    fail("cannot rename '", from, "' to '", to, "': ", std::strerror(errno));
}

void write_via_temp(const std::string& path,
                    const std::function<void(const std::string& temp)>& write) {
  std::string tmp = temp_path_for(path);
  try {
    write(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  commit_file(tmp, path);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_via_temp(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create '", tmp, "': ", std::strerror(errno));
    out << content;
    out.flush();
    if (!out) fail("write error in '", tmp, "' (disk full?)");
  });
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
      stdfs::remove(entry.path(), ec);
      ++removed;
    }
  }
  return removed;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return stdfs::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return stdfs::is_directory(path, ec);
}

void make_directories(const std::string& path) {
  std::error_code ec;
  stdfs::create_directories(path, ec);
  if (ec) fail("cannot create directory '", path, "': ", ec.message());
}

}  // namespace pkd
