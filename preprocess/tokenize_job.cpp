#include "preprocess/tokenize_job.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/document.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/version.h"
#include "glue/split_reader.h"
#include "preprocess/shard_builder.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"
#include "shards/verify.h"
#include "text/sequence_encoder.h"

namespace pkd::preprocess {
namespace {
namespace stdfs = std::filesystem;

// Split names: the TSV stems in data_dir that the task knows (all stems for custom data), or
// exactly the configured ones.
std::vector<std::string> discover_splits(const TokenizeConfig& c) {
  if (!is_directory(c.data_dir)) fail("data directory '", c.data_dir, "' does not exist");
  std::vector<std::string> found;
  for (const auto& entry : stdfs::directory_iterator(c.data_dir))
    if (entry.is_regular_file() && entry.path().extension() == ".tsv")
      found.push_back(entry.path().stem().string());
  std::sort(found.begin(), found.end());
  const glue::TaskSpec* glue_task = glue::find_glue_task(c.task);
  if (!c.splits.empty()) {
    for (const auto& s : c.splits) {
      if (glue_task && !glue_task->find_split(s))
        usage_fail("split '", s, "' is not a split of ", glue_task->name,
                   did_you_mean(s, glue_task->split_names()), ": expected one of ",
                   join(glue_task->split_names(), ", "));
      if (std::find(found.begin(), found.end(), s) == found.end())
        fail("data file '", c.data_dir, "/", s, ".tsv' does not exist (TSV files in '", c.data_dir,
             "': ", found.empty() ? "none" : join(found, ", "), ")");
    }
    return c.splits;
  }
  if (!glue_task) {
    if (found.empty()) fail("no .tsv files in '", c.data_dir, "'");
    // Custom data: every file stem is a split and an output directory (OUT/<stem>/); a file
    // named "...tsv" (stem "..") would write into OUT's parent.
    for (const auto& s : found)
      glue::check_split_name(s, cat("'", c.data_dir, "/", s, ".tsv'"),
                             " (rename the file, or name the splits to tokenize in "
                             "tokenize.splits)");
    return found;
  }
  std::vector<std::string> splits;
  for (const auto& s : glue_task->split_names())
    if (std::find(found.begin(), found.end(), s) != found.end()) splits.push_back(s);
  for (const auto& s : found)
    if (!glue_task->find_split(s))
      log_warn("ignoring '", c.data_dir, "/", s, ".tsv': not a ", glue_task->name, " split (",
               join(glue_task->split_names(), ", "), ")");
  if (splits.empty())
    fail("no ", glue_task->name, " split files in '", c.data_dir, "': expected ",
         join(glue_task->split_names(), ".tsv, "), ".tsv");
  return splits;
}

std::string layout_text(const glue::SplitLayout& l) {
  return cat("header=", l.has_header, " text_a=", l.text_a.describe(),
             " text_b=", l.text_b.describe(), " label=", l.labeled ? l.label.describe() : "none");
}

// Everything that determines a split's shards; a re-run must match it to reuse them.
std::string settings_json(const TokenizeConfig& c, const glue::TaskSpec& task,
                          const glue::SplitLayout& layout, const glue::SplitData& data,
                          const text::BertTokenizer& tok, glue::BadRowPolicy policy) {
  nlohmann::json j = {{"format_version", shards::kTokenShardVersion},
                      {"task", task.name},
                      {"split", layout.split},
                      {"source_sha256", data.file->sha256()},
                      {"vocab_sha256", tok.vocab().sha256()},
                      {"lowercase", tok.options().lowercase},
                      {"strip_accents", tok.options().strips_accents()},
                      {"max_seq_length", c.max_seq_length},
                      {"shard_size", c.shard_size},
                      {"on_bad_row", glue::to_string(policy)},
                      {"allow_empty_text", task.allow_empty_text},
                      {"labels", task.labels},
                      {"regression", task.regression},
                      {"layout", layout_text(layout)}};
  return j.dump();
}

struct SplitPlan {
  const glue::SplitLayout* layout = nullptr;
  std::string dir;
  glue::SplitData data;
  std::string settings;
  std::int64_t num_shards = 0;
  bool up_to_date = false;
};

// Rank 0: decides whether existing output is reused, refused or replaced. Returns true for an
// up-to-date split, false for one to (re)build.
bool decide(SplitPlan& plan, bool overwrite) {
  if (!file_exists(shards::manifest_path(plan.dir))) return false;
  shards::TokenManifest m = shards::read_manifest(plan.dir);
  if (m.settings_json == nlohmann::json::parse(plan.settings).dump()) return true;
  if (!overwrite)
    usage_fail("'", plan.dir, "' already holds shards made with other settings (",
               join(shards::diff_settings(m.settings_json, plan.settings), "; "),
               "). Pass --overwrite to replace them, or choose another --out");
  log_warn("--overwrite: replacing '", plan.dir, "' (",
           join(shards::diff_settings(m.settings_json, plan.settings), "; "), ")");
  std::remove(shards::manifest_path(plan.dir).c_str());
  return false;
}

// Rank 0: makes OUT/vocab.txt a copy of the vocabulary, so the output is self-describing.
void copy_vocab(const TokenizeConfig& c, const text::Vocab& vocab) {
  std::string target = c.out + "/vocab.txt";
  if (file_exists(target)) {
    std::string existing = sha256_file(target);
    if (existing == vocab.sha256()) return;
    if (!c.overwrite)
      usage_fail("'", c.out, "' was tokenized with another vocabulary (", target, " sha256 ",
                 existing.substr(0, 12), "..., this run ", vocab.sha256().substr(0, 12),
                 "...). Pass --overwrite to replace it, or choose another --out");
  }
  write_file_atomic(target, read_file(c.vocab));
}

// Returns false when a complete shard with the same settings already exists (reused).
bool write_shard(const TokenizeConfig& c, const glue::TaskSpec& task, SplitPlan& plan,
                 std::int64_t index, const text::SequenceEncoder& encoder,
                 const text::BertTokenizer& tok) {
  std::string path = plan.dir + "/" + shards::shard_file_name(index);
  const auto complete = [&] {
    shards::TokenShardHeader existing = shards::read_token_shard_header(path);
    if (existing.settings_json == plan.settings) {
      shards::read_token_shard(path);
      return true;
    }
    if (!c.overwrite)
      usage_fail("'", path, "' was made with other settings (",
                 join(shards::diff_settings(existing.settings_json, plan.settings), "; "),
                 "). Pass --overwrite to replace it");
    return false;
  };
  if (file_exists(path) && shards::keep_leftover_shard(path, complete, "writing it again"))
    return false;  // complete, same settings
  shards::TokenShard shard;
  auto& h = shard.header;
  h.task = task.name;
  h.split = plan.layout->split;
  h.label_names = task.labels;
  h.regression = task.regression;
  h.settings_json = plan.settings;
  h.vocab_sha256 = tok.vocab().sha256();
  h.vocab_size = tok.vocab().size();
  h.do_lower_case = tok.options().lowercase;
  h.strip_accents = tok.options().strips_accents();
  h.max_seq_length = c.max_seq_length;
  h.truncation_rule = text::kTruncationRule;
  h.source_file = stdfs::absolute(plan.data.file->path()).string();
  h.source_sha256 = plan.data.file->sha256();
  h.shard_index = index;
  h.tool_version = version_string();
  h.created_utc = shards::utc_now();
  const auto n = static_cast<std::int64_t>(plan.data.examples.size());
  const std::int64_t first = index * c.shard_size;
  build_token_shard(plan.data, first, std::min(c.shard_size, n - first), encoder, shard);
  shards::write_token_shard(path, shard);
  log_debug("wrote ", path, " (", h.num_examples, " examples, ", h.num_tokens, " tokens)");
  return true;
}

// Rank 0, after every shard exists: the manifest, written last.
SplitSummary finish_split(const TokenizeConfig& c, const glue::TaskSpec& task,
                          const SplitPlan& plan) {
  shards::TokenManifest m;
  m.task = task.name;
  m.split = plan.layout->split;
  m.tool_version = version_string();
  m.created_utc = shards::utc_now();
  m.settings_json = plan.settings;
  m.label_names = task.labels;
  m.regression = task.regression;
  m.skipped_lines = plan.data.skipped_lines;
  m.length_histogram.assign(static_cast<std::size_t>(c.max_seq_length) + 1, 0);
  for (std::int64_t i = 0; i < plan.num_shards; ++i) {
    std::string file = shards::shard_file_name(i);
    std::string path = plan.dir + "/" + file;
    shards::TokenShardHeader h = shards::read_token_shard_header(path);
    if (h.settings_json != plan.settings || h.first_example != m.num_examples)
      fail("'", path, "' does not continue the split where shard ", i - 1,
           " ended; re-run with --overwrite");
    m.shards.push_back({file, h.num_examples, h.num_tokens, h.first_example, sha256_file(path)});
    m.num_examples += h.num_examples;
    m.num_tokens += h.num_tokens;
    m.num_truncated += h.num_truncated;
    for (std::size_t k = 0; k < h.length_histogram.size() && k < m.length_histogram.size(); ++k)
      m.length_histogram[k] += h.length_histogram[k];
  }
  if (m.num_examples != static_cast<std::int64_t>(plan.data.examples.size()))
    fail("internal: shards of '", plan.dir, "' hold ", m.num_examples, " examples, the file ",
         plan.data.examples.size());
  TokenizeConfig effective = c;
  write_file_atomic(plan.dir + "/tokenize.toml",
                    "# Effective configuration of the `pkd tokenize` run that wrote this split.\n" +
                        config::to_toml("tokenize", effective));
  shards::write_manifest(plan.dir, m);
  SplitSummary s;
  s.examples = m.num_examples;
  s.tokens = m.num_tokens;
  s.truncated = m.num_truncated;
  s.shards = plan.num_shards;
  s.skipped_rows = static_cast<std::int64_t>(m.skipped_lines.size());
  s.length_histogram = m.length_histogram;
  return s;
}

}  // namespace

std::vector<SplitSummary> run_tokenize(TokenizeConfig config, mpi::Comm& comm) {
  config.validate();
  const std::vector<std::string> split_names = discover_splits(config);
  const glue::TaskSpec task = config.resolve_task(split_names);
  const glue::BadRowPolicy policy = config.bad_row_policy(task);

  text::BertTokenizerOptions options;
  options.lowercase = config.lowercase;
  text::BertTokenizer tokenizer(text::Vocab::load(config.vocab), options);
  text::SequenceEncoder encoder(tokenizer, static_cast<int>(config.max_seq_length));

  std::vector<SplitPlan> plans(split_names.size());
  for (std::size_t i = 0; i < split_names.size(); ++i) {
    SplitPlan& p = plans[i];
    p.layout = task.find_split(split_names[i]);
    p.dir = config.out + "/" + split_names[i];
    p.data =
        glue::read_split(task, *p.layout, config.data_dir + "/" + split_names[i] + ".tsv", policy);
    p.settings = settings_json(config, task, *p.layout, p.data, tokenizer, policy);
    auto n = static_cast<std::int64_t>(p.data.examples.size());
    p.num_shards = (n + config.shard_size - 1) / config.shard_size;
  }

  // Decisions about existing output are rank 0's, then shared: no rank races another's reads.
  std::vector<std::uint8_t> up_to_date(plans.size(), 0);
  if (comm.is_root()) {
    make_directories(config.out);
    copy_vocab(config, tokenizer.vocab());
    for (std::size_t i = 0; i < plans.size(); ++i) {
      make_directories(plans[i].dir);
      remove_stale_temp_files(plans[i].dir);
      up_to_date[i] = decide(plans[i], config.overwrite);
    }
  }
  comm.broadcast_values(up_to_date);
  for (std::size_t i = 0; i < plans.size(); ++i) plans[i].up_to_date = up_to_date[i] != 0;

  std::int64_t work = 0, written = 0;
  for (auto& p : plans) {
    if (p.up_to_date) continue;
    for (std::int64_t s = 0; s < p.num_shards; ++s, ++work) {
      if (work % comm.size() != comm.rank()) continue;
      if (write_shard(config, task, p, s, encoder, tokenizer)) ++written;
    }
  }
  const std::int64_t total_written = comm.sum(written);  // also the barrier before manifests
  log_info("wrote ", total_written, " shards (", work - total_written, " complete shards reused)");

  std::vector<SplitSummary> summary;
  if (comm.is_root()) {
    for (auto& p : plans) {
      SplitSummary s;
      if (p.up_to_date) {
        shards::TokenManifest m = shards::read_manifest(p.dir);
        s.examples = m.num_examples;
        s.tokens = m.num_tokens;
        s.truncated = m.num_truncated;
        s.shards = static_cast<std::int64_t>(m.shards.size());
        s.skipped_rows = static_cast<std::int64_t>(m.skipped_lines.size());
        s.length_histogram = m.length_histogram;
        s.up_to_date = true;
      } else {
        s = finish_split(config, task, p);
      }
      s.split = p.layout->split;
      s.dir = p.dir;
      summary.push_back(s);
    }
  }
  comm.barrier();  // manifests exist before any rank reports success
  return summary;
}

std::string format_summary(const std::vector<SplitSummary>& splits) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %9s %11s %9s %7s %6s %7s  %s\n", "split", "examples",
                "tokens", "mean len", "trunc", "shards", "skipped", "status");
  out << line;
  for (const auto& s : splits) {
    double mean =
        s.examples ? static_cast<double>(s.tokens) / static_cast<double>(s.examples) : 0.0;
    std::snprintf(line, sizeof line, "%-16s %9lld %11lld %9.1f %7lld %6lld %7lld  %s\n",
                  s.split.c_str(), static_cast<long long>(s.examples),
                  static_cast<long long>(s.tokens), mean, static_cast<long long>(s.truncated),
                  static_cast<long long>(s.shards), static_cast<long long>(s.skipped_rows),
                  s.up_to_date ? "up to date" : "written");
    out << line;
  }
  return out.str();
}

}  // namespace pkd::preprocess
