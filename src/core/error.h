#pragma once
// Errors are exceptions that say what was found, what was expected and where. Executables catch
// them in main(), print the message and exit with the code of the error's kind.
#include <stdexcept>
#include <string>

#include "core/strings.h"

namespace pkd {

// Bad input or an internal failure: the job stops, exit code 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  virtual int exit_code() const { return 1; }
};

// The command line or a config file is wrong (typo, missing key, bad value): exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
  int exit_code() const override { return 2; }
};

// Throws Error(cat(args...)).
template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

// Throws UsageError(cat(args...)).
template <class... Args>
[[noreturn]] void usage_fail(Args&&... args) {
  throw UsageError(cat(std::forward<Args>(args)...));
}

// Returns the message of the exception currently being handled, for catch (...) blocks.
std::string current_exception_message();

}  // namespace pkd
