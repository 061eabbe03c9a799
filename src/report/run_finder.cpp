// Finding run directories under the --runs roots and reading them all (see run_reader.h).
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "report/run_reader.h"

namespace pkd::report {

namespace fs = std::filesystem;

std::vector<std::string> find_run_dirs(const std::vector<std::string>& roots) {
  std::vector<std::string> dirs;
  auto is_run = [](const fs::path& p) {
    return file_exists((p / "finetune.toml").string()) ||
           file_exists((p / "distill.toml").string());
  };
  for (const auto& root : roots) {
    if (!is_directory(root)) fail("runs directory '", root, "' does not exist or is no directory");
    if (is_run(root)) {
      dirs.push_back(fs::path(root).lexically_normal().string());
      continue;
    }
    std::error_code ec;
    for (fs::recursive_directory_iterator
             it(root, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
      std::error_code entry_error;  // a dangling link: skipped, not fatal
      if (!it->is_directory(entry_error) || !is_run(it->path())) continue;
      dirs.push_back(it->path().lexically_normal().string());
      it.disable_recursion_pending();
    }
    if (ec) fail("cannot list '", root, "': ", ec.message());
  }
  std::sort(dirs.begin(), dirs.end());
  dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
  return dirs;
}

std::vector<Run> collect_runs(const std::vector<std::string>& roots, bool strict) {
  std::vector<Run> runs;
  for (const auto& dir : find_run_dirs(roots)) {
    try {
      runs.push_back(read_run(dir));
    } catch (const Error& e) {
      if (strict) throw;
      log_warn("run ", dir, " is unreadable and listed as such: ", e.what());
      Run bad;
      bad.dir = dir;
      bad.problem = e.what();
      runs.push_back(std::move(bad));
    }
  }
  return runs;
}

}  // namespace pkd::report
