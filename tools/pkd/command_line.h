#pragma once
// Parsing of one subcommand's arguments into a config Document:
//   pkd CMD [--config FILE.toml] [--set table.key=value ...] [--FLAG VALUE ...] [POSITIONAL ...]
// The file is read first, then --set and flags in command-line order (later wins).
#include <string>
#include <vector>

#include "config/document.h"
#include "config/flags.h"

namespace pkd::cli {

struct CommandLine {
  config::Document doc;
  std::vector<std::string> positional;
  bool help = false;
};

CommandLine parse_command_line(const std::string& command, const std::vector<std::string>& args,
                               const std::vector<config::FlagSpec>& flags);

// "Options:" help block shared by all commands.
std::string common_flags_help();

}  // namespace pkd::cli
