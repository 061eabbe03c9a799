#include "core/fs.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace pkd {
namespace stdfs = std::filesystem;

std::string read_file(const std::string& path) {
  if (is_directory(path)) fail("'", path, "' is a directory, expected a file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot read '", path, "': ", std::strerror(errno));
  // One buffer sized by the file (shards are read whole to be hashed: no stream copies), grown
  // if the file is longer than fstat said (a pipe, or a file still being written).
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
    out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t used = 0;
  auto read_some = [&](char* to, std::size_t n) -> std::size_t {
    for (;;) {
      const ssize_t got = ::read(fd, to, n);
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      fail("read error in '", path, "': ", std::strerror(e));
    }
  };
  for (;;) {
    if (used < out.size()) {
      const std::size_t n = read_some(out.data() + used, out.size() - used);
      if (n == 0) break;
      used += n;
      continue;
    }
    char probe[1 << 16];  // the end, without doubling a buffer that is exactly full
    const std::size_t n = read_some(probe, sizeof probe);
    if (n == 0) break;
    out.append(probe, n);
    used += n;
  }
  ::close(fd);
  out.resize(used);
  return out;
}

std::string temp_path_for(const std::string& final_path) {
  static std::atomic<int> counter{0};
  return cat(final_path, ".tmp.", ::getpid(), ".", counter++);
}

void commit_file(const std::string& from, const std::string& to) {
  // A file system may report a full disk only when the data is flushed: fsync's error is the
  // write's error, and nothing is renamed into place after it.
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '", from, "' to flush it: ", std::strerror(errno));
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    fail("cannot write '", to, "': flushing '", from, "' failed: ", std::strerror(e));
  }
  ::close(fd);
  if (std::rename(from.c_str(), to.c_str()) != 0)
    fail("cannot rename '", from, "' to '", to, "': ", std::strerror(errno));
}

void write_via_temp(const std::string& path,
                    const std::function<void(const std::string& temp)>& write) {
  std::string tmp = temp_path_for(path);
  try {
    write(tmp);
    commit_file(tmp, path);
  } catch (...) {
    std::remove(tmp.c_str());  // nothing half-written is left, under any name
    throw;
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_via_temp(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot create '", tmp, "': ", std::strerror(errno));
    out << content;
    out.close();  // close() flushes: its failure (a full disk) is the write's
    if (!out) fail("cannot write '", path, "' (disk full?): ", std::strerror(errno));
  });
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
      std::remove(entry.path().c_str());  // a file; a non-empty directory stays
      ++removed;
    }
  }
  return removed;
}

namespace {

// nftw's callback takes no context: the first failure of this thread's walk.
thread_local std::string remove_failed_at;
thread_local int remove_errno = 0;

// Depth-first (FTW_DEPTH): a directory after its entries. One that cannot be read (FTW_DNR) is
// still a directory: rmdir names why it stays (not empty), where unlink would say "is a directory".
int remove_entry(const char* path, const struct stat*, int type, struct FTW*) {
  const int rc = type == FTW_DP || type == FTW_DNR ? ::rmdir(path) : ::unlink(path);
  if (rc == 0 || errno == ENOENT) return 0;
  remove_errno = errno;
  remove_failed_at = path;
  return 1;  // stops the walk
}

// 0, or the errno of the first entry that could not be removed (remove_failed_at names it).
int remove_tree_errno(const std::string& path) {
  remove_errno = 0;
  remove_failed_at.clear();
  // FTW_PHYS: a link is an entry to remove, never a way out of the tree.
  const int rc = ::nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS);
  if (rc == 0) return 0;
  if (remove_errno != 0) return remove_errno;
  if (errno == ENOENT || errno == ENOTDIR) return 0;  // nothing there
  remove_failed_at = path;
  return errno;
}

}  // namespace

void remove_tree(const std::string& path) {
  if (const int e = remove_tree_errno(path))
    fail("cannot remove '", remove_failed_at, "' (removing '", path, "'): ", std::strerror(e));
}

bool remove_tree_quietly(const std::string& path) noexcept {
  try {
    return remove_tree_errno(path) == 0;
  } catch (...) {  // std::string's allocation
    return false;
  }
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
