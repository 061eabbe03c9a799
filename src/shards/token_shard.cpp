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

TokenShardHeader read_token_shard_header(const std::string& path) {
  h5::File f = h5::File::open_read(path);
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
  h.vocab_size = f.attr_int("vocab_size");
  h.do_lower_case = f.attr_int("do_lower_case") != 0;
  h.strip_accents = f.attr_int("strip_accents") != 0;
  h.max_seq_length = f.attr_int("max_seq_length");
  h.truncation_rule = f.attr_string("truncation_rule");
  h.source_file = f.attr_string("source_file");
  h.source_sha256 = f.attr_string("source_sha256");
  h.shard_index = f.attr_int("shard_index");
  h.first_example = f.attr_int("first_example");
  h.num_examples = f.attr_int("num_examples");
  h.num_tokens = f.attr_int("num_tokens");
  h.num_truncated = f.attr_int("num_truncated");
  h.length_histogram = f.attr_ints("length_histogram");
  h.tool_version = f.attr_string("tool_version");
  h.created_utc = f.attr_string("created_utc");
  return h;
}

std::vector<std::int64_t> read_token_shard_lengths(const std::string& path) {
  const TokenShardHeader h = read_token_shard_header(path);
  const auto offsets = h5::File::open_read(path).read<std::int64_t>("offsets");
  if (offsets.size() != static_cast<std::size_t>(h.num_examples) + 1)
    fail("'", path, "': dataset offsets has ", offsets.size(), " elements, expected ",
         h.num_examples + 1, " (attribute num_examples)");
  std::vector<std::int64_t> lengths;
  for (std::size_t k = 0; k + 1 < offsets.size(); ++k)
    lengths.push_back(offsets[k + 1] - offsets[k]);
  return lengths;
}

TokenShard read_token_shard(const std::string& path) {
  TokenShard s;
  s.header = read_token_shard_header(path);
  const TokenShardHeader& h = s.header;
  h5::File f = h5::File::open_read(path);
  s.input_ids = f.read<std::int32_t>("input_ids");
  s.token_type_ids = f.read<std::int8_t>("token_type_ids");
  s.offsets = f.read<std::int64_t>("offsets");
  if (h.regression)
    s.scores = f.read<float>("labels");
  else
    s.labels = f.read<std::int64_t>("labels");
  s.example_ids = f.read<std::int64_t>("example_ids");

  const auto n = static_cast<std::size_t>(h.num_examples);
  const auto t = static_cast<std::size_t>(h.num_tokens);
  auto expect = [&](const char* name, std::size_t got, std::size_t want) {
    if (got != want)
      fail("'", path, "': dataset ", name, " has ", got, " elements, expected ", want,
           " (attributes num_examples=", n, ", num_tokens=", t, ")");
  };
  expect("input_ids", s.input_ids.size(), t);
  expect("token_type_ids", s.token_type_ids.size(), t);
  expect("offsets", s.offsets.size(), n + 1);
  expect("labels", h.regression ? s.scores.size() : s.labels.size(), n);
  expect("example_ids", s.example_ids.size(), n);
  if (s.offsets[0] != 0 || s.offsets[n] != static_cast<std::int64_t>(t))
    fail("'", path, "': offsets must start at 0 and end at num_tokens=", t);
  for (std::size_t k = 0; k < n; ++k) {
    std::int64_t len = s.offsets[k + 1] - s.offsets[k];
    if (len < 2 || len > h.max_seq_length)
      fail("'", path, "': example ", k, " has length ", len, ", expected 2..", h.max_seq_length);
    if (!h.regression &&
        (s.labels[k] < -1 || s.labels[k] >= static_cast<std::int64_t>(h.label_names.size())))
      fail("'", path, "': example ", k, " has label ", s.labels[k], ", expected -1..",
           h.label_names.size() - 1);
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
