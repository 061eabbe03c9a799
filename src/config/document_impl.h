#pragma once
// Private to pkd_config: the parsed TOML tree behind a Document.
#include <toml.hpp>

#include "config/document.h"

namespace pkd::config {

struct Document::Impl {
  toml::value root = toml::table{};
};

// `text` parsed; a syntax error is a UsageError naming `name`, the line and a caret.
toml::value parse_toml(const std::string& text, const std::string& name);

// "[error] message" with the file, line and caret of `v` when it came from a file.
std::string located(const std::string& message, const toml::value& v, const std::string& comment);

}  // namespace pkd::config
