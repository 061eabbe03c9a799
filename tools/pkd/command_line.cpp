#include "command_line.h"

#include "core/error.h"

namespace pkd::cli {

CommandLine parse_command_line(const std::string& command, const std::vector<std::string>& args,
                               const std::vector<config::FlagSpec>& flags) {
  CommandLine cl;
  // The config file comes first whatever its position, so flags always override it.
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" || starts_with(args[i], "--config=")) {
      std::string path =
          args[i] == "--config" ? (i + 1 < args.size() ? args[i + 1] : "") : args[i].substr(9);
      if (path.empty()) usage_fail("pkd ", command, ": --config needs a FILE.toml");
      cl.doc = config::Document::from_file(path);
    }
  }
  std::vector<std::string> names{"config", "set", "help"};
  for (const auto& f : flags) names.push_back(f.flag);

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      cl.help = true;
      continue;
    }
    if (!starts_with(arg, "--") || arg == "--") {
      cl.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto take_value = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= args.size()) usage_fail("pkd ", command, ": --", name, " needs a value");
      return args[++i];
    };
    if (name == "config") {
      take_value();  // already read above
      continue;
    }
    if (name == "set") {
      cl.doc.set(take_value());
      continue;
    }
    const config::FlagSpec* spec = nullptr;
    bool negated = false;
    for (const auto& f : flags) {
      if (f.flag == name) spec = &f;
      if (f.kind == "bool" && "no-" + f.flag == name) {
        spec = &f;
        negated = true;
      }
    }
    if (!spec)
      usage_fail("pkd ", command, ": unknown option --", name, did_you_mean(name, names),
                 "; see pkd ", command, " --help");
    if (spec->kind == "bool") {
      if (negated && has_value) usage_fail("pkd ", command, ": --", name, " takes no value");
      cl.doc.set_raw(spec->dotted_key, negated ? "false" : has_value ? value : "true", "bool");
    } else {
      cl.doc.set_raw(spec->dotted_key, take_value(), spec->kind);
    }
  }
  return cl;
}

std::string common_flags_help() {
  return "  --config FILE.toml            read the configuration from a TOML file\n"
         "  --set TABLE.KEY=VALUE         override one config key (repeatable; VALUE is TOML)\n"
         "  --log-level LEVEL             debug, info (default), warn, error\n"
         "  --help                        this help\n";
}

}  // namespace pkd::cli
