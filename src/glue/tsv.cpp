#include "glue/tsv.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"

namespace pkd::glue {

std::shared_ptr<const TsvFile> TsvFile::read(const std::string& path) {
  if (!file_exists(path)) fail("data file '", path, "' does not exist");
  auto file = std::make_shared<TsvFile>();
  TsvFile& f = *file;
  f.path_ = path;
  f.content_ = read_file(path);
  f.sha256_ = sha256_hex(f.content_);
  std::string_view all(f.content_);
  if (starts_with(all, "\xEF\xBB\xBF")) all.remove_prefix(3);
  std::int64_t number = 0;
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t end = all.find('\n', start);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f.lines_.push_back({++number, line});
    start = end + 1;
  }
  return file;
}

void TsvFile::split_columns(std::string_view line, std::vector<std::string_view>& columns) {
  columns.clear();
  std::size_t start = 0;
  while (true) {
    std::size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      columns.push_back(line.substr(start));
      return;
    }
    columns.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

}  // namespace pkd::glue
