#pragma once
// Helpers shared by pkd's tests: repository paths, running the `pkd` binary, temp directories.
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace pkd::test {

// The repository root (for bundled data) and the built `pkd` binary.
std::string source_dir();
std::string pkd_binary();
// The Python the tests run helpers with that need torch or h5py: $PKD_PYTHON (on a GPU machine,
// the PyTorch wheel's), else Debian's /usr/bin/python3 (scripts/setup.sh gives it both).
std::string python();
// ../shared/data/glue beside the repository (CI has it), or $PKD_GLUE_DIR; "" when absent.
std::string shared_glue_dir();

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line, capturing its output.
CommandResult run(const std::string& command_line);
// Runs `pkd ARGS` (args are shell words, quoted by the caller where needed).
CommandResult run_pkd(const std::string& args);

// A fresh directory under $TMPDIR, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text);
// The header and first `rows` rows of the bundled SST-2 train.tsv, written to DIR/data/train.tsv
// and tokenized into DIR/tokens (fails naming pkd's output otherwise). Returns DIR/tokens/train.
std::string tokenize_sst2_head(const std::string& dir, int rows);

// The message of the exception of type E that `f` throws, or "(no error)".
template <class E = Error>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}
// Lines of a gzip file (zlib), without their '\n'.
std::vector<std::string> read_gz_lines(const std::string& path);

}  // namespace pkd::test
