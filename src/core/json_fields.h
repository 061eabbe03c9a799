#pragma once
// Strict reading of the JSON files pkd writes (manifests, trainer state): a count is an integer
// (not 41.5, not "41", not true) within stated bounds, a digest is 64 lower-case hex digits, and
// every error names the file (and entry) and the key. nlohmann's own get<std::int64_t>() would
// truncate 41.5 to 41 and accept a bool. Header-only: its users link nlohmann_json themselves
// (pkd_core does not depend on it).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>

#include "core/error.h"

namespace pkd {

class JsonFields {
 public:
  // `where` names the file (and the entry) in messages: "OUT/train/manifest.json shards[3]".
  JsonFields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail("'", where_, "' is not a JSON object");
  }

  const nlohmann::json& json() const { return j_; }

  const nlohmann::json& at(const char* key) const {
    if (!j_.contains(key)) fail("'", where_, "' has no key \"", key, "\"");
    return j_.at(key);
  }

  std::int64_t count(const char* key, std::int64_t lo, std::int64_t hi) const {
    const auto& v = at(key);
    if (!v.is_number_integer())
      fail("'", where_, "': \"", key, "\" is ", v.dump(), ", expected an integer in ", lo, "..",
           hi);
    const auto x = v.get<std::int64_t>();
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
      fail("'", where_, "': \"", key, "\" is ", v.dump(), ", expected ", lo, "..", hi);
    if (x < lo || x > hi) fail("'", where_, "': \"", key, "\" is ", x, ", expected ", lo, "..", hi);
    return x;
  }

  std::string text(const char* key) const {
    const auto& v = at(key);
    if (!v.is_string()) fail("'", where_, "': \"", key, "\" is ", v.dump(), ", expected a string");
    return v.get<std::string>();
  }

  std::string sha256(const char* key) const {
    std::string s = text(key);
    bool hex = s.size() == 64;
    for (char c : s) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!hex)
      fail("'", where_, "': \"", key, "\" is \"", s.substr(0, 80),
           "\", expected a sha256 digest (64 lower-case hex digits)");
    return s;
  }

  bool flag(const char* key) const {
    const auto& v = at(key);
    if (!v.is_boolean())
      fail("'", where_, "': \"", key, "\" is ", v.dump(), ", expected true/false");
    return v.get<bool>();
  }

 private:
  const nlohmann::json& j_;
  std::string where_;
};

}  // namespace pkd
