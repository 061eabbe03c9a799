#include "config/flags.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace pkd::config {
namespace {

std::string dashed(const char* key) {
  std::string s = key;
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

class FlagCollector : public Visitor {
 public:
  explicit FlagCollector(const char* table) : path_{table} {}

  void field(const char* key, std::string& v, const char* doc) override {
    add(key, "string", doc, v.empty() ? "\"\"" : v);
  }
  void field(const char* key, bool& v, const char* doc) override {
    add(key, "bool", doc, v ? "true" : "false");
  }
  void field(const char* key, std::int64_t& v, const char* doc) override {
    add(key, "int", doc, std::to_string(v));
  }
  void field(const char* key, double& v, const char* doc) override {
    add(key, "float", doc, cat(v));
  }
  void field(const char* key, std::vector<std::string>& v, const char* doc) override {
    add(key, "list", doc, v.empty() ? "[]" : join(v, ","));
  }
  void field(const char* key, ColumnRef& v, const char* doc) override {
    add(key, "column", doc, v.describe());
  }

  std::vector<FlagSpec> flags;

 protected:
  void begin_table(const char* key, const char* doc) override {
    path_.push_back(path_.back() + "." + key);
  }
  void end_table() override { path_.pop_back(); }

 private:
  void add(const char* key, const char* kind, const char* doc, std::string def) {
    std::string flag = dashed(key);
    for (const auto& f : flags)
      if (f.flag == flag) fail("internal: two config fields map to flag --", flag);
    flags.push_back({flag, path_.back() + "." + key, kind, doc, std::move(def)});
  }
  std::vector<std::string> path_;
};

}  // namespace

std::vector<FlagSpec> collect_flags(const char* table, const std::function<void(Visitor&)>& visit) {
  FlagCollector c(table);
  visit(c);
  return c.flags;
}

std::string format_flag_help(const std::vector<FlagSpec>& flags) {
  std::ostringstream out;
  for (const auto& f : flags) {
    std::string name = f.kind == "bool"
                           ? cat("--[no-]", f.flag)
                           : cat("--", f.flag, " ", f.kind == "list" ? "A,B,..." : "VALUE");
    out << "  " << name;
    out << std::string(name.size() < 30 ? 30 - name.size() : 1, ' ');
    out << f.doc << " [" << f.dotted_key << ", default " << f.default_text << "]\n";
  }
  return out.str();
}

}  // namespace pkd::config
