#pragma once
// The dotted key of a config field, taken from the struct's own visit() list, so that code which
// writes `--set` overrides or reads effective configs (pkd sweep, pkd report) names fields
// through the structs instead of re-spelling their keys:
//   distill::DistillConfig d;
//   config::key_of("distill", d, d.loss.alpha)  // "distill.loss.alpha"
#include <string>

#include "config/visitor.h"

namespace pkd::config {

// Walks a visit() list and records the dotted key of the field stored at `target`.
class KeyFinder : public Visitor {
 public:
  KeyFinder(const char* table, const void* target);
  void field(const char* key, std::string& value, const char* doc) override;
  void field(const char* key, bool& value, const char* doc) override;
  void field(const char* key, std::int64_t& value, const char* doc) override;
  void field(const char* key, double& value, const char* doc) override;
  void field(const char* key, std::vector<std::string>& value, const char* doc) override;
  void field(const char* key, ColumnRef& value, const char* doc) override;
  // The key found; throws (an internal error) when `target` is not a field of the visit list.
  std::string key() const;

 protected:
  void begin_table(const char* key, const char* doc) override;
  void end_table() override;

 private:
  void check(const char* key, const void* address);
  std::vector<std::string> path_;
  const void* target_;
  std::string found_;
};

// `member` must be a field of `config` (a reference into it), visited by T::visit.
template <class T, class M>
std::string key_of(const char* table, T& config, const M& member) {
  KeyFinder finder(table, &member);
  config.visit(finder);
  return finder.key();
}

}  // namespace pkd::config
