#include "support/test_support.h"

#include <sys/wait.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"

namespace pkd::test {

std::string source_dir() {
  return PKD_SOURCE_DIR;
}
std::string pkd_binary() {
  return PKD_BINARY;
}
std::string python() {
  const char* chosen = std::getenv("PKD_PYTHON");
  return chosen && *chosen ? chosen : "/usr/bin/python3";
}

std::string shared_glue_dir() {
  if (const char* env = std::getenv("PKD_GLUE_DIR")) return env;
  std::string dir = source_dir() + "/../shared/data/glue";
  return std::filesystem::is_directory(dir) ? dir : "";
}

CommandResult run(const std::string& command_line) {
  CommandResult r;
  FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
  if (!pipe) fail("cannot run: ", command_line);
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

CommandResult run_pkd(const std::string& args) {
  return run(pkd_binary() + " " + args);
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/pkd-test-XXXXXX";
  if (!mkdtemp(pattern.data())) fail("mkdtemp failed for ", pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  remove_tree_quietly(path_);  // not std::filesystem::remove_all: core/fs.h says why
}

void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) fail("cannot write ", path);
}

std::string tokenize_sst2_head(const std::string& dir, int rows) {
  const std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
  std::size_t cut = 0;
  for (int lines = 0; lines <= rows; ++lines) {  // the header, then `rows` rows
    const std::size_t end = train.find('\n', cut);
    if (end == std::string::npos) fail("SST-2's train.tsv has fewer than ", rows, " rows");
    cut = end + 1;
  }
  write_text(dir + "/data/train.tsv", train.substr(0, cut));
  const CommandResult r = run_pkd("tokenize --task SST-2 --data-dir " + dir + "/data --vocab " +
                                  source_dir() + "/data/vocab/vocab.txt --out " + dir + "/tokens");
  if (r.exit_code != 0) fail("pkd tokenize failed: ", r.output);
  return dir + "/tokens/train";
}

std::vector<std::string> read_gz_lines(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail("cannot open ", path);
  std::vector<std::string> lines;
  std::string current;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(f, buffer, sizeof buffer)) > 0) {
    for (int i = 0; i < n; ++i) {
      if (buffer[i] == '\n') {
        lines.push_back(current);
        current.clear();
      } else {
        current += buffer[i];
      }
    }
  }
  gzclose(f);
  if (!current.empty()) lines.push_back(current);
  return lines;
}

}  // namespace pkd::test
