#pragma once
// SHA-256 digests (hex) for provenance attributes: vocabularies, source files, shards.
#include <memory>
#include <string>
#include <string_view>

namespace pkd {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Lower-case hex digest; the object cannot be updated afterwards.
  std::string hex_digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(std::string_view data);
// Streams the file; throws Error naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace pkd
