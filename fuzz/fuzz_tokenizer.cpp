// The tokenizer (src/text/): BertTokenizer on the bundled bert-base-uncased vocabulary with
// options chosen by the first byte, and SequenceEncoder (pairs, truncation) with a
// max_seq_length chosen by the second. A third byte picks pair mode (text_a and text_b split at
// the first tab). With the top bit of the first byte set, the input is instead a vocab.txt (up
// to the first NUL byte) and a text to encode with it (after the NUL).
// Checks: invalid UTF-8 is refused (pkd::Error) exactly when find_invalid_utf8 says so; every id
// is inside the vocabulary; tokenize() agrees with encode(); encoding is deterministic;
// encode(a + " " + b) == encode(a) ++ encode(b) (whitespace splits words, so this compares the
// ASCII fast path with the Unicode path); SequenceEncoder's layout and truncation match BERT's
// _truncate_seq_pair exactly and never exceed max_seq_length.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/strings.h"
#include "fuzz_common.h"
#include "text/bert_tokenizer.h"
#include "text/sequence_encoder.h"
#include "text/utf8.h"
#include "text/vocab.h"

using namespace pkd;
using pkd::fuzz::Input;

namespace {

const text::Vocab& bundled_vocab() {
  static const text::Vocab vocab = text::Vocab::load(fuzz::source_dir() + "/data/vocab/vocab.txt");
  return vocab;
}

const text::BertTokenizer& tokenizer_for(std::uint8_t bits) {
  static std::map<std::uint8_t, std::unique_ptr<text::BertTokenizer>> cache;
  auto& slot = cache[bits];
  if (!slot) {
    text::BertTokenizerOptions o;
    o.lowercase = bits & 1;
    if (bits & 2) o.strip_accents = (bits & 4) != 0;
    o.clean_text = bits & 8;
    o.handle_chinese_chars = bits & 16;
    o.max_input_chars_per_word = bits & 32 ? 5 : 100;
    slot = std::make_unique<text::BertTokenizer>(bundled_vocab(), o);
  }
  return *slot;
}

bool valid_utf8(std::string_view s) {
  return text::find_invalid_utf8(s) == std::string_view::npos;
}

// encode() with the refusal contract: returns nullopt when refused (only for invalid UTF-8).
std::optional<std::vector<std::int32_t>> encode(const text::BertTokenizer& tok,
                                                std::string_view s) {
  std::vector<std::int32_t> ids;
  bool ok = fuzz::expect_ok_or_error("", [&] { tok.encode(s, ids); });
  PKD_FUZZ_CHECK(ok == valid_utf8(s), ok ? "invalid UTF-8 was encoded" : "valid UTF-8 refused");
  if (!ok) return std::nullopt;
  for (std::int32_t id : ids)
    PKD_FUZZ_CHECK(id >= 0 && id < tok.vocab().size(), cat("id ", id, " outside the vocab"));
  return ids;
}

void check_tokenize(const text::BertTokenizer& tok, std::string_view s,
                    const std::vector<std::int32_t>& ids) {
  std::vector<std::string> pieces = tok.tokenize(s);
  PKD_FUZZ_CHECK(pieces.size() == ids.size(), "tokenize() and encode() disagree in length");
  for (std::size_t i = 0; i < ids.size(); ++i)
    PKD_FUZZ_CHECK(tok.vocab().find(pieces[i]) == ids[i], "tokenize() piece is not its id");
}

void check_encoder(const text::BertTokenizer& tok, int max_len, std::string_view a,
                   std::optional<std::string_view> b) {
  const text::SequenceEncoder encoder(tok, max_len);
  text::EncodedExample out;
  const bool valid = valid_utf8(a) && (!b || valid_utf8(*b));
  const bool ok = fuzz::expect_ok_or_error("", [&] { encoder.encode(a, b, out); });
  PKD_FUZZ_CHECK(ok == valid, "SequenceEncoder refusal does not match the input's UTF-8");
  if (!ok) return;
  std::vector<std::int32_t> ids_a = *encode(tok, a), ids_b;
  if (b) ids_b = *encode(tok, *b);
  // BERT's _truncate_seq_pair / single-sequence truncation.
  std::size_t la = ids_a.size(), lb = ids_b.size();
  const std::size_t max = static_cast<std::size_t>(max_len);
  if (b) {
    while (la + lb > max - 3) (la > lb ? la : lb)--;
  } else if (la > max - 2) {
    la = max - 2;
  }
  std::vector<std::int32_t> expected{tok.vocab().cls_id()};
  expected.insert(expected.end(), ids_a.begin(), ids_a.begin() + static_cast<long>(la));
  expected.push_back(tok.vocab().sep_id());
  std::vector<std::int8_t> types(expected.size(), 0);
  if (b) {
    expected.insert(expected.end(), ids_b.begin(), ids_b.begin() + static_cast<long>(lb));
    expected.push_back(tok.vocab().sep_id());
    types.resize(expected.size(), 1);
  }
  PKD_FUZZ_CHECK(out.input_ids.size() <= max, cat(out.input_ids.size(), " ids > ", max));
  PKD_FUZZ_CHECK(out.input_ids == expected,
                 "SequenceEncoder layout/truncation differs from BERT's");
  PKD_FUZZ_CHECK(out.token_type_ids == types, "token_type_ids differ from BERT's");
  PKD_FUZZ_CHECK(out.truncated == (la != ids_a.size() || lb != ids_b.size()), "truncated flag");
}

void fuzz_text(Input in) {
  const std::uint8_t option_bits = in.byte() & 0x3f;
  const int max_len = 3 + in.byte() % 160;
  const bool pair = in.byte() & 1;
  const text::BertTokenizer& tok = tokenizer_for(option_bits);
  const std::string_view text = in.rest();

  auto ids = encode(tok, text);
  if (ids) {
    check_tokenize(tok, text, *ids);
    PKD_FUZZ_CHECK(*encode(tok, text) == *ids, "encode() is not deterministic");
  }
  std::optional<std::string_view> text_b;
  std::string_view text_a = text;
  if (pair) {
    std::size_t tab = text.find('\t');
    text_a = text.substr(0, tab);
    text_b = tab == std::string_view::npos ? std::string_view() : text.substr(tab + 1);
  }
  check_encoder(tok, max_len, text_a, text_b);
  // Words never span whitespace: encoding two halves joined by a space is their concatenation.
  if (text_b && valid_utf8(text_a) && valid_utf8(*text_b)) {
    std::vector<std::int32_t> joined =
        *encode(tok, std::string(text_a) + " " + std::string(*text_b));
    std::vector<std::int32_t> parts = *encode(tok, text_a);
    std::vector<std::int32_t> part_b = *encode(tok, *text_b);
    parts.insert(parts.end(), part_b.begin(), part_b.end());
    PKD_FUZZ_CHECK(joined == parts, "encode(a + ' ' + b) != encode(a) ++ encode(b)");
  }
}

void fuzz_vocab(Input in) {
  static fuzz::ScratchFile scratch("vocab.txt");
  const std::string_view all = in.rest();
  const std::size_t nul = all.find('\0');
  const std::string_view vocab_bytes = all.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? "" : all.substr(nul + 1);
  const std::string& path = scratch.write(vocab_bytes);
  std::optional<text::Vocab> vocab;
  if (!fuzz::expect_ok_or_error(path, [&] { vocab.emplace(text::Vocab::load(path)); })) return;
  for (std::int32_t i = 0; i < vocab->size(); ++i)
    PKD_FUZZ_CHECK(vocab->find(vocab->token(i)) == i, "vocab find(token(i)) != i");
  for (std::int32_t id : {vocab->pad_id(), vocab->unk_id(), vocab->cls_id(), vocab->sep_id()})
    PKD_FUZZ_CHECK(id >= 0 && id < vocab->size(), "special token id outside the vocab");
  const text::BertTokenizer tok(*vocab, text::BertTokenizerOptions{});
  auto ids = encode(tok, text);
  if (ids) check_tokenize(tok, text, *ids);
  check_encoder(tok, 8, text, std::string_view("b [SEP] c"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 0 && (data[0] & 0x80))
    fuzz_vocab(Input{data + 1, size - 1});
  else
    fuzz_text(Input{data, size});
  return 0;
}
