#include "preprocess/inspect.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"
#include "shards/verify.h"
#include "text/vocab.h"

namespace pkd::preprocess {
namespace {
namespace stdfs = std::filesystem;

std::string histogram_text(const std::vector<std::int64_t>& hist) {
  std::int64_t last = 0;
  for (std::size_t i = 0; i < hist.size(); ++i)
    if (hist[i]) last = static_cast<std::int64_t>(i);
  const std::int64_t width = std::max<std::int64_t>(1, (last + 16) / 16);
  std::vector<std::int64_t> bins(static_cast<std::size_t>(last / width + 1), 0);
  for (std::int64_t i = 0; i <= last; ++i)
    bins[static_cast<std::size_t>(i / width)] += hist[static_cast<std::size_t>(i)];
  const std::int64_t top = std::max<std::int64_t>(1, *std::max_element(bins.begin(), bins.end()));
  std::ostringstream out;
  for (std::size_t b = 0; b < bins.size(); ++b) {
    char label[64];
    std::snprintf(label, sizeof label, "  %4lld-%-4lld |", static_cast<long long>(b * width),
                  static_cast<long long>(b * width + width - 1));
    out << label << std::string(static_cast<std::size_t>(40 * bins[b] / top), '#') << " " << bins[b]
        << "\n";
  }
  return out.str();
}

std::string label_text(const shards::TokenShard& s, std::size_t k) {
  if (s.header.regression) return std::isnan(s.scores[k]) ? "unlabeled" : cat(s.scores[k]);
  std::int64_t l = s.labels[k];
  return l < 0 ? "unlabeled" : cat(l, " (", s.header.label_names[static_cast<std::size_t>(l)], ")");
}

// Label distribution over all shards of a split.
std::string label_distribution(const std::vector<shards::TokenShard>& all) {
  std::map<std::string, std::int64_t> counts;
  double sum = 0, sum_sq = 0;
  std::int64_t n = 0;
  for (const auto& s : all)
    for (std::size_t k = 0; k < static_cast<std::size_t>(s.size()); ++k) {
      if (s.header.regression) {
        if (std::isnan(s.scores[k])) {
          ++counts["unlabeled"];
        } else {
          sum += s.scores[k];
          sum_sq += static_cast<double>(s.scores[k]) * s.scores[k];
          ++n;
        }
      } else {
        ++counts[label_text(s, k)];
      }
    }
  std::ostringstream out;
  if (n) {
    double mean = sum / static_cast<double>(n);
    out << "  " << n << " scores, mean " << mean << ", std "
        << std::sqrt(std::max(0.0, sum_sq / static_cast<double>(n) - mean * mean)) << "\n";
  }
  for (const auto& [label, count] : counts) out << "  " << label << ": " << count << "\n";
  return out.str();
}

std::string decode_example(const shards::TokenShard& s, std::size_t k,
                           const std::string& vocab_path) {
  std::ostringstream out;
  auto begin = static_cast<std::size_t>(s.offsets[k]),
       end = static_cast<std::size_t>(s.offsets[k + 1]);
  out << "example " << s.header.first_example + static_cast<std::int64_t>(k) << " (source row "
      << s.example_ids[k] << ", label " << label_text(s, k) << ", " << end - begin << " tokens)\n";
  std::string ids, types;
  for (std::size_t i = begin; i < end; ++i) {
    ids += cat(i > begin ? " " : "", s.input_ids[i]);
    types += cat(i > begin ? " " : "", int{s.token_type_ids[i]});
  }
  if (file_exists(vocab_path)) {
    text::Vocab vocab = text::Vocab::load(vocab_path);
    if (vocab.sha256() != s.header.vocab_sha256)
      fail("vocabulary '", vocab_path, "' is not the one these shards were made with (sha256 ",
           s.header.vocab_sha256, ")");
    std::string pieces;
    for (std::size_t i = begin; i < end; ++i)
      pieces += cat(i > begin ? " " : "", vocab.token(s.input_ids[i]));
    out << "  tokens: " << pieces << "\n";
  } else {
    out << "  (no vocabulary at '" << vocab_path << "': pass --vocab to see tokens)\n";
  }
  out << "  input_ids: " << ids << "\n  token_type_ids: " << types << "\n";
  return out.str();
}

// inspect.example must index one of `count` examples (-1, the default, means a summary and never
// gets here).
void check_example(std::int64_t example, std::int64_t count, const std::string& what) {
  if (count == 0) usage_fail("inspect.example (--example) = ", example, ": ", what, " is empty");
  if (example < 0 || example >= count)
    usage_fail("inspect.example (--example) must be in 0..", count - 1, ": ", what, " has ", count,
               " examples; got ", example);
}

std::string header_text(const shards::TokenShardHeader& h) {
  std::ostringstream out;
  out << "  task " << h.task << ", split " << h.split << ", labels ["
      << (h.regression ? "regression" : join(h.label_names, ", ")) << "]\n"
      << "  max_seq_length " << h.max_seq_length << ", do_lower_case " << h.do_lower_case
      << ", strip_accents " << h.strip_accents << ", vocab " << h.vocab_size << " tokens (sha256 "
      << h.vocab_sha256.substr(0, 16) << "...)\n"
      << "  source " << h.source_file << " (sha256 " << h.source_sha256.substr(0, 16) << "...)\n"
      << "  made by " << h.tool_version << " at " << h.created_utc << "\n";
  return out.str();
}

// One shard file: verified through its split's manifest when one lists it (the normal case),
// else read as it is, with a warning that nothing vouches for it.
shards::TokenShard read_shard_file(const std::string& path) {
  const stdfs::path file(path);
  const std::string dir = file.parent_path().string();
  if (file_exists(shards::manifest_path(dir))) {
    const shards::TokenManifest m = shards::read_manifest(dir);
    for (std::size_t i = 0; i < m.shards.size(); ++i)
      if (m.shards[i].file == file.filename().string())
        return shards::read_token_shard(dir, m, i, shards::Verification::kFull);
  }
  log_warn("'", path, "' is not listed by a manifest beside it: read without verification");
  return shards::read_token_shard(path);
}

std::string inspect_split(const std::string& dir, const InspectOptions& o) {
  shards::TokenManifest m = shards::read_manifest(dir);
  std::vector<shards::TokenShard> all;
  for (std::size_t i = 0; i < m.shards.size(); ++i)
    all.push_back(shards::read_token_shard(dir, m, i, shards::Verification::kFull));
  std::string vocab =
      o.vocab.empty() ? (stdfs::path(dir).parent_path() / "vocab.txt").string() : o.vocab;
  if (o.example) {
    check_example(*o.example, m.num_examples, cat("split '", m.split, "'"));
    for (const auto& s : all)
      if (*o.example >= s.header.first_example && *o.example < s.header.first_example + s.size())
        return decode_example(s, static_cast<std::size_t>(*o.example - s.header.first_example),
                              vocab);
    fail("example ", *o.example, " is out of range: split '", m.split, "' has ", m.num_examples,
         " examples");
  }
  std::ostringstream out;
  out << dir << ": " << m.num_examples << " examples, " << m.num_tokens << " tokens in "
      << m.shards.size() << " shards; " << m.num_truncated << " truncated, "
      << m.skipped_lines.size() << " malformed rows skipped\n";
  if (!all.empty()) out << header_text(all[0].header);
  out << "labels:\n"
      << label_distribution(all) << "sequence lengths (tokens):\n"
      << histogram_text(m.length_histogram);
  return out.str();
}

}  // namespace

std::string inspect(const InspectOptions& o) {
  if (!file_exists(o.path)) fail("'", o.path, "' does not exist");
  if (!is_directory(o.path)) {
    shards::TokenShard s = read_shard_file(o.path);
    std::string vocab =
        o.vocab.empty() ? (stdfs::path(o.path).parent_path().parent_path() / "vocab.txt").string()
                        : o.vocab;
    if (o.example) {
      check_example(*o.example, s.size(), "the shard");
      return decode_example(s, static_cast<std::size_t>(*o.example), vocab);
    }
    std::ostringstream out;
    out << o.path << ": shard " << s.header.shard_index << ", examples " << s.header.first_example
        << ".." << s.header.first_example + s.size() - 1 << ", " << s.header.num_tokens
        << " tokens, " << s.header.num_truncated << " truncated\n"
        << header_text(s.header) << "labels:\n"
        << label_distribution({s}) << "sequence lengths (tokens):\n"
        << histogram_text(s.header.length_histogram);
    return out.str();
  }
  if (is_feature_split(o.path)) {
    if (o.example) fail("--example decodes token shards; '", o.path, "' holds teacher features");
    return inspect_features(o.path);
  }
  if (file_exists(shards::manifest_path(o.path))) return inspect_split(o.path, o);
  std::vector<std::string> splits;
  for (const auto& entry : stdfs::directory_iterator(o.path))
    if (entry.is_directory() && file_exists(shards::manifest_path(entry.path().string())))
      splits.push_back(entry.path().string());
  std::sort(splits.begin(), splits.end());
  if (splits.empty())
    fail("'", o.path, "' holds no pkd token output (no manifest.json in it or its subdirectories)");
  if (o.example)
    fail("--example needs one split: pass '", splits[0], "' or another split directory");
  std::string out;
  for (const auto& dir : splits) out += inspect_split(dir, o) + "\n";
  return out;
}

}  // namespace pkd::preprocess
