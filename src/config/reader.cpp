// Reads TOML tables into config structs (Document::read). Every value is checked here, once, for
// its type: an integer key takes only a TOML integer (never 2.5 or true), a number key only a
// finite number (nan and inf are refused: they would train a NaN model or plan a NaN sweep).
// Ranges are each component's validate().
#include <cmath>
#include <limits>

#include "config/document.h"
#include "config/document_impl.h"
#include "core/error.h"

namespace pkd::config {
namespace {

constexpr std::int64_t kMaxColumn = std::int64_t{1} << 20;

class Reader : public Visitor {
 public:
  Reader(const toml::value* table, std::string path) { frames_.push_back({table, path, {}}); }

  void field(const char* key, std::string& value, const char* doc) override {
    if (const toml::value* v = lookup(key)) {
      if (!v->is_string()) type_error(key, *v, "a string");
      value = v->as_string().str;
    }
  }
  void field(const char* key, bool& value, const char* doc) override {
    if (const toml::value* v = lookup(key)) {
      if (!v->is_boolean()) type_error(key, *v, "true or false");
      value = v->as_boolean();
    }
  }
  void field(const char* key, std::int64_t& value, const char* doc) override {
    if (const toml::value* v = lookup(key)) {
      if (!v->is_integer()) type_error(key, *v, "an integer");
      value = v->as_integer();
    }
  }
  void field(const char* key, double& value, const char* doc) override {
    if (const toml::value* v = lookup(key)) {
      if (v->is_integer())
        value = static_cast<double>(v->as_integer());
      else if (v->is_floating())
        value = v->as_floating();
      else
        type_error(key, *v, "a number");
      if (!std::isfinite(value)) type_error(key, *v, "a finite number");
    }
  }
  void field(const char* key, std::vector<std::string>& value, const char* doc) override {
    if (const toml::value* v = lookup(key)) {
      if (!v->is_array()) type_error(key, *v, "an array of strings");
      value.clear();
      for (const auto& item : v->as_array()) {
        if (!item.is_string()) type_error(key, item, "an array of strings");
        value.push_back(item.as_string().str);
      }
    }
  }
  void field(const char* key, ColumnRef& value, const char* doc) override {
    if (const toml::value* v = lookup(key)) {
      value = ColumnRef{};
      // At most 2^20 columns: the TSV reader counts columns in an int.
      if (v->is_integer() && v->as_integer() >= 0 && v->as_integer() <= kMaxColumn)
        value.index = v->as_integer();
      else if (v->is_string())
        value.name = v->as_string().str;
      else if (v->is_integer())
        type_error(key, *v, "a 0-based column index (0..1048576) or a header name");
      else
        type_error(key, *v, "a 0-based column index or a header name");
    }
  }

  void finish() { check_unknown(frames_.back()); }

 protected:
  void begin_table(const char* key, const char* doc) override {
    const toml::value* sub = lookup(key);
    if (sub && !sub->is_table()) type_error(key, *sub, "a table");
    frames_.push_back({sub, frames_.back().path + "." + key, {}});
  }
  void end_table() override {
    check_unknown(frames_.back());
    frames_.pop_back();
  }

 private:
  struct Frame {
    const toml::value* table;  // null when the table is absent
    std::string path;
    std::vector<std::string> known;
  };

  const toml::value* lookup(const char* key) {
    Frame& f = frames_.back();
    f.known.emplace_back(key);
    if (!f.table) return nullptr;
    const auto& t = f.table->as_table();
    auto it = t.find(key);
    return it == t.end() ? nullptr : &it->second;
  }

  // "config key 'T.key' must be EXPECTED, found TYPE VALUE" (the value when it is a scalar: an
  // array or table may be long), with the file, line and a caret when it came from a file.
  [[noreturn]] void type_error(const char* key, const toml::value& v, const char* expected) {
    const bool scalar = !v.is_array() && !v.is_table();
    usage_fail(
        located(cat("[error] config key '", frames_.back().path, ".", key, "' must be ", expected,
                    ", found ", toml::stringize(v.type()), scalar ? cat(" ", toml::format(v)) : ""),
                v, cat("expected ", expected)));
  }

  void check_unknown(const Frame& f) {
    if (!f.table) return;
    for (const auto& [key, value] : f.table->as_table()) {
      bool known = false;
      for (const auto& k : f.known) known = known || k == key;
      if (!known)
        usage_fail(located(
            cat("[error] unknown config key '", f.path, ".", key, "'", did_you_mean(key, f.known),
                "; known keys in [", f.path, "]: ", join(f.known, ", ")),
            value, "unknown key"));
    }
  }

  std::vector<Frame> frames_;
};

}  // namespace

void Document::read_table(const char* table, const std::function<void(Visitor&)>& visit) const {
  const auto& root = impl_->root.as_table();
  auto it = root.find(table);
  const toml::value* t = it == root.end() ? nullptr : &it->second;
  if (t && !t->is_table())
    usage_fail(located(cat("[error] '", table, "' must be a table ([", table, "])"), *t, "here"));
  Reader reader(t, table);
  visit(reader);
  reader.finish();
}

}  // namespace pkd::config
