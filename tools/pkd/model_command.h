#pragma once
// Argument parsing shared by the commands that run a model: their own config table plus
// [runtime] (device, precision, threads).
#include <cstdio>
#include <string>
#include <vector>

#include "command_line.h"
#include "core/error.h"
#include "model/runtime.h"

namespace pkd::cli {

// Fills `config` (table `table`) and `runtime` from the arguments. Returns false after printing
// --help (`usage` is the text above the option list).
template <class Config>
bool parse_model_command(const std::string& command, const char* table, const char* usage,
                         const std::vector<std::string>& args, Config& config,
                         model::RuntimeConfig& runtime) {
  auto flags = config::flags_of(table, config);
  auto runtime_flags = config::flags_of("runtime", runtime);
  flags.insert(flags.end(), runtime_flags.begin(), runtime_flags.end());
  CommandLine cl = parse_command_line(command, args, flags);
  if (cl.help) {
    std::printf("%s\nOptions ([%s] and [runtime] config tables):\n%s\n%s", usage, table,
                config::format_flag_help(flags).c_str(), common_flags_help().c_str());
    return false;
  }
  if (!cl.positional.empty())
    usage_fail("pkd ", command, " takes no positional arguments, got '", cl.positional[0], "'");
  cl.doc.check_tables({table, "runtime"});
  cl.doc.read(table, config);
  cl.doc.read("runtime", runtime);
  return true;
}

}  // namespace pkd::cli
