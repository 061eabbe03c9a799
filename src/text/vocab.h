#pragma once
// A WordPiece vocabulary read from a BERT `vocab.txt`: one token per line, the line number (from
// 0) is the id. Follows HuggingFace's load_vocab: a line is the token minus its final "\n".
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pkd::text {

class Vocab {
 public:
  // Throws Error naming the file and line for a missing/empty file, CRLF line endings, empty or
  // duplicate tokens, or a missing special token ([PAD], [UNK], [CLS], [SEP]).
  static Vocab load(const std::string& path);
  // For tests: the same checks on in-memory tokens.
  static Vocab from_tokens(std::vector<std::string> tokens, const std::string& origin);

  std::int32_t size() const { return static_cast<std::int32_t>(tokens_.size()); }
  // -1 when the token is not in the vocabulary.
  std::int32_t find(std::string_view token) const;
  const std::string& token(std::int32_t id) const;
  const std::vector<std::string>& tokens() const { return tokens_; }

  std::int32_t pad_id() const { return pad_id_; }
  std::int32_t unk_id() const { return unk_id_; }
  std::int32_t cls_id() const { return cls_id_; }
  std::int32_t sep_id() const { return sep_id_; }
  // SHA-256 of the file's bytes (of the tokens joined by "\n" for from_tokens).
  const std::string& sha256() const { return sha256_; }
  const std::string& origin() const { return origin_; }

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int32_t> ids_;
  std::int32_t pad_id_ = -1, unk_id_ = -1, cls_id_ = -1, sep_id_ = -1;
  std::string sha256_;
  std::string origin_;
};

}  // namespace pkd::text
