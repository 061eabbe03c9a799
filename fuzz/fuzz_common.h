#pragma once
// Shared by the libFuzzer targets (fuzz/fuzz_*.cpp).
//
// The contract of a pkd reader with hostile bytes: it returns something that satisfies the
// reader's invariants, or it throws pkd::Error (src/core/error.h) with a message that says what
// was wrong. Anything else -- a crash, a sanitizer report, std::bad_alloc, std::out_of_range, a
// nlohmann/toml exception leaking through pkd's API, a broken invariant -- is a bug: the harness
// aborts and libFuzzer saves the input.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "core/error.h"
#include "core/log.h"

namespace pkd::fuzz {

// A broken invariant: prints and aborts (libFuzzer reports a deadly signal and keeps the input).
[[noreturn]] inline void violated(const char* file, int line, const char* what,
                                  const std::string& detail) {
  std::fprintf(stderr, "\n==pkd-fuzz== invariant violated at %s:%d: %s\n%s\n", file, line, what,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}
#define PKD_FUZZ_CHECK(cond, detail)                                                    \
  do {                                                                                  \
    if (!(cond)) ::pkd::fuzz::violated(__FILE__, __LINE__, #cond, std::string(detail)); \
  } while (0)

// Runs `body`; pkd::Error is the expected refusal (its message must name `origin` when one is
// given and must not be empty). Any other exception aborts with its dynamic type and message.
// Returns true when `body` completed, false when it was refused.
template <class F>
bool expect_ok_or_error(const std::string& origin, F&& body) {
  try {
    body();
    return true;
  } catch (const pkd::Error& e) {
    std::string_view what = e.what();
    PKD_FUZZ_CHECK(!what.empty(), "pkd::Error with an empty message");
    if (!origin.empty())
      PKD_FUZZ_CHECK(what.find(origin) != std::string_view::npos,
                     "the error does not name the input '" + origin + "': " + std::string(what));
    return false;
  } catch (const std::exception& e) {
    violated(__FILE__, __LINE__, "an exception other than pkd::Error escaped pkd's API",
             std::string(typeid(e).name()) + ": " + e.what());
  } catch (...) {
    violated(__FILE__, __LINE__, "a non-std exception escaped pkd's API", "");
  }
}

// A scratch file for readers that only take a path: one per process and target, in /dev/shm
// (RAM) when it exists, rewritten for every input and removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const char* name) {
    const char* dir = std::getenv("PKD_FUZZ_SCRATCH");
    if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(dir) + "/pkd-fuzz-" + std::to_string(getpid()) + "-" + name;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) violated(__FILE__, __LINE__, "cannot create the scratch file", path_);
    if (size && std::fwrite(data, 1, size, f) != size)
      violated(__FILE__, __LINE__, "cannot write the scratch file", path_);
    std::fclose(f);
    return path_;
  }
  const std::string& write(std::string_view bytes) {
    return write(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Takes bytes off the front of the input for the harness's own choices (task, options, ...).
struct Input {
  const std::uint8_t* data;
  std::size_t size;
  std::uint8_t byte() {
    if (!size) return 0;
    --size;
    return *data++;
  }
  std::string_view rest() const { return {reinterpret_cast<const char*>(data), size}; }
};

// The repository's root (for the bundled vocabulary), compiled in by fuzz/CMakeLists.txt.
inline std::string source_dir() {
  const char* env = std::getenv("PKD_SOURCE_DIR");
  return env && *env ? env : PKD_FUZZ_SOURCE_DIR;
}

}  // namespace pkd::fuzz

// Runs once before fuzzing (each target is one translation unit including this header): pkd's
// warnings (e.g. "skipped N malformed rows") would flood the output; PKD_FUZZ_LOG=1 keeps them.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* log = std::getenv("PKD_FUZZ_LOG");
  if (!log || !*log) pkd::set_log_level(pkd::LogLevel::off);
  return 0;
}
