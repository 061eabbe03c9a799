#include "config/keys.h"

#include "core/error.h"
#include "core/strings.h"

namespace pkd::config {

KeyFinder::KeyFinder(const char* table, const void* target) : path_{table}, target_(target) {}

void KeyFinder::check(const char* key, const void* address) {
  if (address == target_) found_ = join(path_, ".") + "." + key;
}

void KeyFinder::field(const char* key, std::string& value, const char*) {
  check(key, &value);
}
void KeyFinder::field(const char* key, bool& value, const char*) {
  check(key, &value);
}
void KeyFinder::field(const char* key, std::int64_t& value, const char*) {
  check(key, &value);
}
void KeyFinder::field(const char* key, double& value, const char*) {
  check(key, &value);
}
void KeyFinder::field(const char* key, std::vector<std::string>& value, const char*) {
  check(key, &value);
}
void KeyFinder::field(const char* key, ColumnRef& value, const char*) {
  check(key, &value);
}
void KeyFinder::begin_table(const char* key, const char*) {
  path_.emplace_back(key);
}
void KeyFinder::end_table() {
  path_.pop_back();
}

std::string KeyFinder::key() const {
  if (found_.empty())
    fail("internal: config::key_of: the member is not a field of [", path_[0], "]");
  return found_;
}

}  // namespace pkd::config
