#pragma once
// A configuration document: a TOML file (optional) plus `--set key=value` overrides, read into
// the typed config structs of the components that a command runs.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/visitor.h"

namespace pkd::config {

class Document {
 public:
  // An empty document (all defaults).
  Document();
  // Parses a TOML file; syntax errors throw UsageError with file, line and a caret.
  static Document from_file(const std::string& path);
  static Document from_string(const std::string& toml_text, const std::string& name);

  // `--set a.b.c=value`: the value is parsed as a TOML value (123, 1e-5, true, "x", [1, 2]); if
  // it is not one, it is taken as a string, so `--set tokenize.task=SST-2` works unquoted.
  void set(const std::string& assignment);
  // Sets a dotted key from a raw command-line string, converted to `kind` ("string", "bool",
  // "int", "float", "list" (comma-separated) or "column").
  void set_raw(const std::string& dotted_key, const std::string& raw, const std::string& kind);

  // Fails with a suggestion when the document has a top-level table not in `known_tables`.
  void check_tables(const std::vector<std::string>& known_tables) const;

  // Reads table `table` (absent = all defaults) into a config struct via its visit method.
  template <class T>
  void read(const char* table, T& config) const {
    read_table(table, [&](Visitor& v) { config.visit(v); });
  }

  const std::string& origin() const { return origin_; }

  struct Impl;

 private:
  void read_table(const char* table, const std::function<void(Visitor&)>& visit) const;

  std::shared_ptr<Impl> impl_;
  std::string origin_ = "defaults";
};

// TOML text of a config struct as table `table`: the effective config saved beside outputs.
template <class T>
std::string to_toml(const char* table, T& config);
std::string to_toml_text(const char* table, const std::function<void(Visitor&)>& visit);
template <class T>
std::string to_toml(const char* table, T& config) {
  return to_toml_text(table, [&](Visitor& v) { config.visit(v); });
}

}  // namespace pkd::config
