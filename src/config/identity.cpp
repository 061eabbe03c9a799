#include "config/identity.h"

#include <cstdio>

#include "config/document_impl.h"

namespace pkd::config {
namespace {

// One spelling per value: 2e-5, 2.0e-5 and 0.00002 are the same float.
std::string canonical(const toml::value& v) {
  char buf[64];
  switch (v.type()) {
    case toml::value_t::floating:
      std::snprintf(buf, sizeof buf, "%.17g", v.as_floating());
      return buf;
    case toml::value_t::integer:
      return std::to_string(v.as_integer());
    case toml::value_t::boolean:
      return v.as_boolean() ? "true" : "false";
    case toml::value_t::array: {
      std::string out = "[";
      for (const auto& e : v.as_array()) out += (out.size() > 1 ? ", " : "") + canonical(e);
      return out + "]";
    }
    default:  // strings (quoted and escaped) and anything else, as TOML writes it
      return toml::format(v);
  }
}

void flatten(const toml::value& v, const std::string& prefix, Settings& out) {
  if (!v.is_table()) {
    out[prefix] = canonical(v);
    return;
  }
  for (const auto& [key, sub] : v.as_table())
    flatten(sub, prefix.empty() ? key : prefix + "." + key, out);
}

}  // namespace

Settings settings_of(const std::string& toml_text, const std::string& name) {
  Settings out;
  flatten(parse_toml(toml_text, name), "", out);
  return out;
}

std::string identity_text(const Settings& settings, const std::set<std::string>& ignored) {
  std::string out;
  for (const auto& [key, value] : settings)
    if (!ignored.count(key)) out += key + " = " + value + "\n";
  return out;
}

std::vector<std::string> differences(const Settings& saved, const Settings& current,
                                     const Settings& defaults,
                                     const std::set<std::string>& ignored) {
  std::vector<std::string> out;
  for (const auto& [key, now] : current) {
    if (ignored.count(key)) continue;
    auto it = saved.find(key);
    const Settings* from = &saved;
    if (it == saved.end()) {
      it = defaults.find(key);
      from = &defaults;
    }
    if (it == from->end())
      out.push_back(key + ": absent from the checkpoint, now " + now);
    else if (it->second != now)
      out.push_back(key + ": checkpoint " + it->second + (from == &defaults ? " (default)" : "") +
                    ", now " + now);
  }
  return out;
}

}  // namespace pkd::config
