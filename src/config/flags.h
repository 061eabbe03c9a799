#pragma once
// Command-line flags derived from a config struct: every field of table [T] is a flag
// `--field-name VALUE` (booleans: `--field-name` / `--no-field-name`); fields of nested tables
// are flags too, under their own name. A flag is exactly `--set T.field=VALUE`.
#include <functional>
#include <string>
#include <vector>

#include "config/visitor.h"

namespace pkd::config {

struct FlagSpec {
  std::string flag;        // "max-seq-length"
  std::string dotted_key;  // "tokenize.max_seq_length"
  std::string kind;        // string | bool | int | float | list | column
  std::string doc;
  std::string default_text;
};

std::vector<FlagSpec> collect_flags(const char* table, const std::function<void(Visitor&)>& visit);

template <class T>
std::vector<FlagSpec> flags_of(const char* table, T& config) {
  return collect_flags(table, [&](Visitor& v) { config.visit(v); });
}

// Help text: one line per flag with its default and documentation.
std::string format_flag_help(const std::vector<FlagSpec>& flags);

}  // namespace pkd::config
