#pragma once
#include <string>

namespace pkd {
// "pkd 0.1.0 (git abcdef123456)": written into every output as provenance.
std::string version_string();
}  // namespace pkd
