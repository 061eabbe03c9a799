#pragma once
// A tab-separated file read without any quote processing (GLUE's files contain lone '"'), as
// lines with their 1-based line numbers. A UTF-8 BOM at the start is dropped (MRPC has one), a
// final line without '\n' is kept (CoLA dev), a trailing '\r' is dropped (CRLF files).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pkd::glue {

struct TsvLine {
  std::int64_t line_number;  // 1-based, as an editor shows it
  std::string_view text;     // without '\n' / '\r'
};

class TsvFile {
 public:
  // Throws Error naming the file when it is missing or unreadable. Shared and immutable: lines
  // are views into the file's bytes.
  static std::shared_ptr<const TsvFile> read(const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }
  const std::vector<TsvLine>& lines() const { return lines_; }

  // Splits one line into columns (views into the file's bytes).
  static void split_columns(std::string_view line, std::vector<std::string_view>& columns);

 private:
  std::string path_;
  std::string content_;
  std::string sha256_;  // of the file's bytes as on disk
  std::vector<TsvLine> lines_;
};

}  // namespace pkd::glue
