#pragma once
// Typed configuration. Every component owns one struct per TOML table with defaults, units and
// documentation, and lists its fields once in a `visit` method:
//
//   struct ExampleConfig {
//     std::int64_t shard_size = 8192;  // examples per shard
//     template <class V> void visit(V& v) {
//       v.field("shard_size", shard_size, "examples per HDF5 shard");
//     }
//   };
//
// The same list reads the TOML table (unknown keys are errors with a suggestion), writes the
// effective config, prints --help and derives the command-line flags.
#include <cstdint>
#include <string>
#include <vector>

namespace pkd::config {

// A TSV column given by 0-based index (TOML integer) or by header name (TOML string).
struct ColumnRef {
  std::int64_t index = -1;  // >= 0 when given by index
  std::string name;         // non-empty when given by name

  bool empty() const { return index < 0 && name.empty(); }
  std::string describe() const;  // "column 3" / "column 'sentence'" / "none"
};

class Visitor {
 public:
  virtual ~Visitor() = default;
  virtual void field(const char* key, std::string& value, const char* doc) = 0;
  virtual void field(const char* key, bool& value, const char* doc) = 0;
  virtual void field(const char* key, std::int64_t& value, const char* doc) = 0;
  virtual void field(const char* key, double& value, const char* doc) = 0;
  virtual void field(const char* key, std::vector<std::string>& value, const char* doc) = 0;
  virtual void field(const char* key, ColumnRef& value, const char* doc) = 0;

  template <class T>
  void table(const char* key, T& sub, const char* doc) {
    begin_table(key, doc);
    sub.visit(*this);
    end_table();
  }

 protected:
  virtual void begin_table(const char* key, const char* doc) = 0;
  virtual void end_table() = 0;
};

}  // namespace pkd::config
