#include "config/document.h"

#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include "config/document_impl.h"
#include "core/error.h"
#include "core/fs.h"

namespace pkd::config {

toml::value parse_toml(const std::string& text, const std::string& name) {
  // toml11 parses slowly, and `pkd sweep` validates every run of its grid, each of which reads
  // the same few files: the last documents parsed are kept per (name, text) and copied out
  // (configs/glue/sweep.toml's dry run: 4.6 s -> 1.1 s). Bounded: the config fuzzer parses a new
  // text every call.
  constexpr std::size_t kKept = 32;
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::string>, toml::value> parsed;
  std::lock_guard<std::mutex> lock(mutex);
  const auto key = std::make_pair(name, text);
  if (const auto it = parsed.find(key); it != parsed.end()) return it->second;
  if (parsed.size() >= kKept) parsed.clear();
  std::istringstream in(text);
  try {
    return parsed.emplace(key, toml::parse(in, name)).first->second;
  } catch (const toml::syntax_error& e) {
    usage_fail("config ", name, " is not valid TOML:\n", e.what());
  }
}

namespace {

// Parses a command-line value as a TOML value, or returns it as a string.
toml::value parse_cli_value(const std::string& raw) {
  std::istringstream in("value = " + raw);
  try {
    toml::value doc = toml::parse(in, "--set");
    return doc.as_table().at("value");
  } catch (const std::exception&) {
    return toml::value(raw);
  }
}

toml::value convert_raw(const std::string& key, const std::string& raw, const std::string& kind) {
  if (kind == "string") return toml::value(raw);
  if (kind == "bool") {
    if (raw == "true" || raw == "1" || raw == "yes") return toml::value(true);
    if (raw == "false" || raw == "0" || raw == "no") return toml::value(false);
    usage_fail("'", key, "' takes true or false, got '", raw, "'");
  }
  if (kind == "int") {
    std::int64_t v;
    if (!parse_int64(raw, v)) usage_fail("'", key, "' takes an integer, got '", raw, "'");
    return toml::value(v);
  }
  if (kind == "float") {
    double v;
    if (!parse_double(raw, v)) usage_fail("'", key, "' takes a number, got '", raw, "'");
    return toml::value(v);
  }
  if (kind == "list") {
    toml::array items;
    if (!raw.empty())
      for (const auto& item : split(raw, ',')) items.emplace_back(std::string(trim(item)));
    return toml::value(items);
  }
  if (kind == "column") {
    std::int64_t v;
    if (parse_int64(raw, v)) return toml::value(v);
    return toml::value(raw);
  }
  fail("internal: unknown config value kind '", kind, "'");
}

}  // namespace

std::string located(const std::string& message, const toml::value& v, const std::string& comment) {
  const auto loc = v.location();
  // No file position for values that came from the command line: flags are values built in code
  // (toml11 locates them in "unknown file"), --set values are parsed from a pseudo-file "--set".
  if (loc.line() == 0 || loc.file_name() == "unknown file" || loc.file_name() == "--set")
    return message;
  return cat(loc.file_name(), ":", loc.line(), ": ", message, "\n  ", loc.line_str(), "\n  ",
             std::string(loc.column() > 0 ? loc.column() - 1 : 0, ' '), "^ ", comment);
}

Document::Document() : impl_(std::make_shared<Impl>()) {}

Document Document::from_file(const std::string& path) {
  if (!file_exists(path)) usage_fail("config file '", path, "' does not exist");
  Document d = from_string(read_file(path), path);
  return d;
}

Document Document::from_string(const std::string& toml_text, const std::string& name) {
  Document d;
  d.impl_->root = parse_toml(toml_text, name);
  d.origin_ = name;
  return d;
}

void Document::set(const std::string& assignment) {
  std::size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    usage_fail("--set takes KEY=VALUE (e.g. tokenize.max_seq_length=64), got '", assignment, "'");
  std::string key(trim(assignment.substr(0, eq)));
  std::string raw(trim(assignment.substr(eq + 1)));
  set_raw(key, raw, "auto");
}

void Document::set_raw(const std::string& dotted_key, const std::string& raw,
                       const std::string& kind) {
  std::vector<std::string> parts = split(dotted_key, '.');
  toml::value* node = &impl_->root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    auto& table = node->as_table();
    auto it = table.find(parts[i]);
    if (it == table.end()) it = table.emplace(parts[i], toml::table{}).first;
    if (!it->second.is_table())
      usage_fail("cannot set '", dotted_key, "': '", parts[i], "' is a value, not a table");
    node = &it->second;
  }
  if (parts.back().empty()) usage_fail("--set: empty key in '", dotted_key, "'");
  // TOML is UTF-8: a value that is not could not be written back into the effective config.
  if (find_invalid_utf8(dotted_key) != std::string_view::npos)
    usage_fail("--set: the key ", quoted(dotted_key), " is not valid UTF-8");
  if (const auto bad = find_invalid_utf8(raw); bad != std::string_view::npos)
    usage_fail("'", dotted_key, "': the value is not valid UTF-8 (byte ", bad + 1, ")");
  node->as_table()[parts.back()] =
      kind == "auto" ? parse_cli_value(raw) : convert_raw(dotted_key, raw, kind);
}

void Document::check_tables(const std::vector<std::string>& known_tables) const {
  for (const auto& [key, value] : impl_->root.as_table()) {
    bool known = false;
    for (const auto& t : known_tables) known = known || t == key;
    if (!known)
      usage_fail(located(
          cat("[error] unknown table or key '", key, "' in config ", origin_,
              did_you_mean(key, known_tables), "; expected one of: ", join(known_tables, ", ")),
          value, "unknown"));
  }
}

}  // namespace pkd::config
