#include "text/vocab.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"
#include "text/utf8.h"

namespace pkd::text {
namespace {

// Special tokens every BERT vocabulary must have; [MASK] is optional for classification.
std::int32_t require(const Vocab& v, const char* token) {
  std::int32_t id = v.find(token);
  if (id < 0)
    fail("vocabulary ", v.origin(), " has no ", token,
         " token: expected a BERT WordPiece vocab.txt with [PAD], [UNK], [CLS] and [SEP]");
  return id;
}

}  // namespace

Vocab Vocab::load(const std::string& path) {
  if (!file_exists(path)) fail("vocabulary file '", path, "' does not exist");
  std::string data = read_file(path);
  if (data.empty()) fail("vocabulary file '", path, "' is empty: expected one token per line");
  std::vector<std::string> tokens;
  std::size_t start = 0;
  while (start < data.size()) {
    std::size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    tokens.emplace_back(data, start, end - start);
    start = end + 1;
  }
  Vocab v = from_tokens(std::move(tokens), "'" + path + "'");
  v.sha256_ = sha256_hex(data);
  return v;
}

Vocab Vocab::from_tokens(std::vector<std::string> tokens, const std::string& origin) {
  Vocab v;
  v.origin_ = origin;
  v.ids_.reserve(tokens.size() * 2);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (!t.empty() && t.back() == '\r')
      fail("vocabulary ", origin, " line ", i + 1,
           " ends with \\r: the file has Windows (CRLF) line endings; convert it to LF "
           "(e.g. `sed -i 's/\\r$//' FILE`) so token ids match HuggingFace");
    if (t.empty()) fail("vocabulary ", origin, " line ", i + 1, " is empty: expected a token");
    std::size_t bad = find_invalid_utf8(t);
    if (bad != std::string::npos)
      fail("vocabulary ", origin, " line ", i + 1, " is not valid UTF-8 (byte ", bad + 1, ")");
    auto [it, inserted] = v.ids_.emplace(t, static_cast<std::int32_t>(i));
    if (!inserted)
      fail("vocabulary ", origin, " line ", i + 1, ": token ", quoted(t),
           " already appears on line ", it->second + 1, "; ids would be ambiguous");
  }
  v.tokens_ = std::move(tokens);
  v.pad_id_ = require(v, "[PAD]");
  v.unk_id_ = require(v, "[UNK]");
  v.cls_id_ = require(v, "[CLS]");
  v.sep_id_ = require(v, "[SEP]");
  if (v.sha256_.empty()) v.sha256_ = sha256_hex(join(v.tokens_, "\n"));
  return v;
}

std::int32_t Vocab::find(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  return it == ids_.end() ? -1 : it->second;
}

const std::string& Vocab::token(std::int32_t id) const {
  if (id < 0 || id >= size())
    fail("token id ", id, " is outside the vocabulary (size ", size(), ")");
  return tokens_[static_cast<std::size_t>(id)];
}

}  // namespace pkd::text
