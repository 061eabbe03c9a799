#include "core/version.h"

namespace pkd {
std::string version_string() {
  return std::string("pkd ") + PKD_VERSION + " (git " + PKD_GIT_REVISION + ")";
}
}  // namespace pkd
