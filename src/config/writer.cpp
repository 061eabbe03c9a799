// Writes config structs as commented TOML (the effective config saved beside every output).
#include <cstdio>
#include <sstream>

#include "config/document.h"
#include "core/strings.h"

namespace pkd::config {
namespace {

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string toml_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a TOML float
  return s;
}

class Writer : public Visitor {
 public:
  explicit Writer(const std::string& table) { begin_section(table); }

  void field(const char* key, std::string& v, const char* doc) override {
    line(key, toml_string(v), doc);
  }
  void field(const char* key, bool& v, const char* doc) override {
    line(key, v ? "true" : "false", doc);
  }
  void field(const char* key, std::int64_t& v, const char* doc) override {
    line(key, std::to_string(v), doc);
  }
  void field(const char* key, double& v, const char* doc) override {
    line(key, toml_double(v), doc);
  }
  void field(const char* key, std::vector<std::string>& v, const char* doc) override {
    std::vector<std::string> items;
    for (const auto& s : v) items.push_back(toml_string(s));
    line(key, "[" + join(items, ", ") + "]", doc);
  }
  void field(const char* key, ColumnRef& v, const char* doc) override {
    // An unset column is written as "" (TOML has no null).
    line(key, v.index >= 0 ? std::to_string(v.index) : toml_string(v.name), doc);
  }

  std::string text() const { return out_.str() + nested_.str(); }

 protected:
  void begin_table(const char* key, const char* doc) override {
    path_.push_back(path_.back() + "." + key);
    nested_ << "\n# " << doc << "\n";
    begin_section(path_.back());
  }
  void end_table() override { path_.pop_back(); }

 private:
  void begin_section(const std::string& table) {
    if (path_.empty()) path_.push_back(table);
    current() << "[" << table << "]\n";
  }
  std::ostringstream& current() { return path_.size() > 1 ? nested_ : out_; }
  void line(const char* key, const std::string& value, const char* doc) {
    current() << key << " = " << value << "  # " << doc << "\n";
  }

  std::vector<std::string> path_;
  std::ostringstream out_, nested_;
};

}  // namespace

std::string ColumnRef::describe() const {
  if (index >= 0) return cat("column ", index);
  if (!name.empty()) return cat("column '", name, "'");
  return "none";
}

std::string to_toml_text(const char* table, const std::function<void(Visitor&)>& visit) {
  Writer w(table);
  visit(w);
  return w.text();
}

}  // namespace pkd::config
