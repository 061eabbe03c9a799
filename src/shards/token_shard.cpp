#include "shards/token_shard.h"

#include <cmath>
#include <ctime>

#include "core/error.h"
#include "core/fs.h"
#include "shards/h5.h"

namespace pkd::shards {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_token_shard(const std::string& path, const TokenShard& s) {
  const TokenShardHeader& h = s.header;
  write_via_temp(path, [&](const std::string& tmp) {
    h5::File f = h5::File::create(tmp);
    f.set_attr("format", kTokenShardFormat);
    f.set_attr("format_version", kTokenShardVersion);
    f.set_attr("task", h.task);
    f.set_attr("split", h.split);
    f.set_attr("label_names", h.label_names);
    f.set_attr("regression", std::int64_t{h.regression});
    f.set_attr("settings", h.settings_json);
    f.set_attr("vocab_sha256", h.vocab_sha256);
    f.set_attr("vocab_size", h.vocab_size);
    f.set_attr("do_lower_case", std::int64_t{h.do_lower_case});
    f.set_attr("strip_accents", std::int64_t{h.strip_accents});
    f.set_attr("max_seq_length", h.max_seq_length);
    f.set_attr("truncation_rule", h.truncation_rule);
    f.set_attr("source_file", h.source_file);
    f.set_attr("source_sha256", h.source_sha256);
    f.set_attr("shard_index", h.shard_index);
    f.set_attr("first_example", h.first_example);
    f.set_attr("num_examples", h.num_examples);
    f.set_attr("num_tokens", h.num_tokens);
    f.set_attr("num_truncated", h.num_truncated);
    f.set_attr("length_histogram", h.length_histogram);
    f.set_attr("tool_version", h.tool_version);
    f.set_attr("created_utc", h.created_utc);
    f.write("input_ids", s.input_ids);
    f.write("token_type_ids", s.token_type_ids);
    f.write("offsets", s.offsets);
    if (h.regression)
      f.write("labels", s.scores);
    else
      f.write("labels", s.labels);
    f.write("example_ids", s.example_ids);
    f.close();
  });
}

namespace {

// Bounds on header counts, checked before anything is sized by them. Generous: BERT's positions
// are 512, the largest vocabularies in use ~250k.
constexpr std::int64_t kMaxSeqLength = 1 << 16;
constexpr std::int64_t kMaxVocab = 1 << 24;

}  // namespace

TokenShardHeader read_token_shard_header(const h5::File& f) {
  const std::string& path = f.path();
  if (!f.has_attr("format") || f.attr_string("format") != kTokenShardFormat)
    fail("'", path, "' is not a pkd token shard (attribute format = '",
         f.has_attr("format") ? f.attr_string("format") : "", "', expected '", kTokenShardFormat,
         "')");
  std::int64_t version = f.attr_int("format_version");
  if (version != kTokenShardVersion)
    fail("'", path, "' is token shard format version ", version, "; this pkd reads version ",
         kTokenShardVersion, ": re-run `pkd tokenize` with this version");
  TokenShardHeader h;
  h.task = f.attr_string("task");
  h.split = f.attr_string("split");
  h.label_names = f.attr_strings("label_names");
  h.regression = f.attr_int("regression") != 0;
  h.settings_json = f.attr_string("settings");
  h.vocab_sha256 = f.attr_string("vocab_sha256");
  h.vocab_size = f.attr_int_in("vocab_size", 1, kMaxVocab);
  h.do_lower_case = f.attr_int("do_lower_case") != 0;
  h.strip_accents = f.attr_int("strip_accents") != 0;
  h.max_seq_length = f.attr_int_in("max_seq_length", 3, kMaxSeqLength);
  h.truncation_rule = f.attr_string("truncation_rule");
  h.source_file = f.attr_string("source_file");
  h.source_sha256 = f.attr_string("source_sha256");
  h.shard_index = f.attr_int_in("shard_index", 0, std::int64_t{1} << 40);
  h.first_example = f.attr_int_in("first_example", 0, std::int64_t{1} << 40);
  h.num_examples = f.attr_int_in("num_examples", 0, std::int64_t{1} << 40);
  h.num_tokens = f.attr_int_in("num_tokens", 2 * h.num_examples, h.num_examples * h.max_seq_length);
  h.num_truncated = f.attr_int_in("num_truncated", 0, h.num_examples);
  h.length_histogram = f.attr_ints("length_histogram");
  if (h.length_histogram.size() != static_cast<std::size_t>(h.max_seq_length) + 1)
    fail("'", path, "': attribute length_histogram has ", h.length_histogram.size(),
         " entries, expected max_seq_length + 1 = ", h.max_seq_length + 1);
  h.tool_version = f.attr_string("tool_version");
  h.created_utc = f.attr_string("created_utc");
  return h;
}

TokenShardHeader read_token_shard_header(const std::string& path) {
  return read_token_shard_header(h5::File::open_read(path));
}

TokenShard read_token_shard(const std::string& path) {
  return read_token_shard(h5::File::open_read(path));
}

TokenShard read_token_shard(const h5::File& f) {
  const std::string& path = f.path();
  TokenShard s;
  s.header = read_token_shard_header(f);
  const TokenShardHeader& h = s.header;
  const auto n = static_cast<std::size_t>(h.num_examples);
  const auto t = static_cast<std::size_t>(h.num_tokens);
  // Shapes first: nothing is allocated for a dataset that disagrees with the attributes.
  auto expect = [&](const char* name, std::size_t want) {
    const auto got = f.dataset_info(name).length;
    if (got != static_cast<std::int64_t>(want))
      fail("'", path, "': dataset ", name, " has ", got, " elements, expected ", want,
           " (attributes num_examples=", n, ", num_tokens=", t, ")");
  };
  expect("input_ids", t);
  expect("token_type_ids", t);
  expect("offsets", n + 1);
  expect("labels", n);
  expect("example_ids", n);
  s.input_ids = f.read<std::int32_t>("input_ids");
  s.token_type_ids = f.read<std::int8_t>("token_type_ids");
  s.offsets = f.read<std::int64_t>("offsets");
  if (h.regression)
    s.scores = f.read<float>("labels");
  else
    s.labels = f.read<std::int64_t>("labels");
  s.example_ids = f.read<std::int64_t>("example_ids");

  if (s.offsets[0] != 0 || s.offsets[n] != static_cast<std::int64_t>(t))
    fail("'", path, "': offsets must start at 0 and end at num_tokens=", t);
  for (std::size_t k = 0; k < n; ++k) {
    std::int64_t len = s.offsets[k + 1] - s.offsets[k];
    if (len < 2 || len > h.max_seq_length)
      fail("'", path, "': example ", k, " has length ", len, ", expected 2..", h.max_seq_length);
    if (!h.regression &&
        (s.labels[k] < -1 || s.labels[k] >= static_cast<std::int64_t>(h.label_names.size())))
      fail("'", path, "': example ", k, " has label ", s.labels[k], ", expected -1..",
           static_cast<std::int64_t>(h.label_names.size()) - 1);
    if (h.regression && std::isinf(s.scores[k]))
      fail("'", path, "': example ", k, " has score ", s.scores[k],
           ", expected a finite number (NaN = unlabeled)");
    // Example ids are source data rows in file order: increasing, and never before the
    // example's position in the split (skipped rows only move them later).
    const std::int64_t floor = k == 0 ? h.first_example : s.example_ids[k - 1] + 1;
    if (s.example_ids[k] < floor)
      fail("'", path, "': example ", k, " has example id ", s.example_ids[k],
           ", expected >= ", floor, " (ids are increasing source rows)");
  }
  for (std::size_t i = 0; i < t; ++i) {
    if (s.input_ids[i] < 0 || s.input_ids[i] >= h.vocab_size)
      fail("'", path, "': input_ids[", i, "] = ", s.input_ids[i], " is outside the vocabulary (",
           h.vocab_size, " tokens)");
    if (s.token_type_ids[i] != 0 && s.token_type_ids[i] != 1)
      fail("'", path, "': token_type_ids[", i, "] = ", int{s.token_type_ids[i]},
           ", expected 0 or 1");
  }
  return s;
}

}  // namespace pkd::shards
