#pragma once
// One training run directory (`pkd finetune` / `pkd distill` output) as the report sees it: its
// effective configuration, dev metrics, history, submission files, and its row of the table.
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace pkd::report {

// split -> metric -> value, as in eval_results.json ({"dev": {"accuracy": 0.91}}).
using SplitMetrics = std::map<std::string, std::map<std::string, double>>;

// The rows of the paper's table.
enum class RunKind {
  teacher,     // `pkd finetune` of a whole model (init_layers = 0): "BERT12 (teacher)"
  fine_tuned,  // a k-layer student without a teacher: distill alpha = beta = 0, or finetune
               // init_layers = k: "BERT6-FT"
  kd,          // distill beta = 0, alpha > 0 (vanilla KD): "BERT6-KD"; or beta = 0 with
               // token-level terms only: "BERT6-HID+ATT"
  pkd,         // distill beta > 0: "BERT6-PKD-Skip", "BERT6-PKD-Last", "BERT6-PKD-[2,4,6,8,10]"
};
// A distillation row's name also carries the student's width when the run set one
// (distill.student_hidden_size: "BERT4x312-KD") and its token-level terms
// ("BERT4x312-PKD-Skip+HID+EMB+ATT", "+ATT-KL" for the KL form): objectives the paper's
// table has no row for are never merged into its rows.
const char* to_string(RunKind kind);  // teacher, ft, kd, pkd (the submission selectors)

enum class RunStatus {
  complete,    // every epoch done, dev metrics and (if a test split was set) the submission file
  unfinished,  // no eval_results.json, fewer epochs than configured, or no submission file yet
  no_dev,      // trained without a dev split: nothing to rank it by
  unreadable,  // a file of the run does not parse (the problem names it)
};
const char* to_string(RunStatus status);

// The kind of a run from its command and configuration (see RunKind).
// `token_terms`: a token-level term (hidden, embedding, attention) has a weight > 0.
RunKind classify(const std::string& command, std::int64_t init_layers, double alpha, double beta,
                 bool token_terms = false);
// "skip" -> "Skip", "last" -> "Last", "2, 4,6" -> "[2,4,6]".
std::string layer_map_label(const std::string& layer_map);
// The table row: "BERT12 (teacher)", "BERT6-FT", "BERT6-KD", "BERT6-PKD-Skip"; "BERT?" when
// the number of layers is unknown.
std::string row_label(RunKind kind, std::int64_t layers, const std::string& layer_map);

// One line of metrics.jsonl (docs/formats.md): an epoch line, written at every epoch end, or a
// step line, written at every dev evaluation between epoch ends (`eval_every`).
struct MetricsRecord {
  bool epoch_end = true;   // "kind": "epoch" (or no "kind": runs before eval_every); false: "step"
  std::int64_t epoch = 0;  // epoch lines: the epoch done; step lines: the epoch in progress
  std::int64_t step = 0;   // optimizer steps done
  // Mean training loss per example: epoch lines over the epoch, step lines since the previous
  // line; NaN when the line has null (a diverged run).
  double train_loss = std::numeric_limits<double>::quiet_NaN();
  SplitMetrics dev;  // the dev split's metrics at this point (empty without a dev split)
};

struct HyperParams {
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  double learning_rate = kNone;
  double temperature = kNone, alpha = kNone, beta = kNone;  // NaN for finetune runs
  std::string layer_map;                                    // "" for finetune runs
  // Distillation beyond [CLS] (0 / "" / -1 for finetune runs and runs before them).
  double hidden_weight = 0, embedding_weight = 0, attention_weight = 0;
  std::string attention_loss;
  std::int64_t student_hidden_size = -1;
  std::int64_t epochs = 0, batch_size = 0, max_steps = -1, seed = 0;
};

struct Run {
  std::string dir;      // as found under a --runs directory
  std::string command;  // "finetune" | "distill" ("" when unreadable before knowing)
  RunStatus status = RunStatus::unreadable;
  std::string problem;  // why the run is not complete
  std::string task;     // "SST-2", "MNLI", ... (the train split's manifest), "" when unknown
  bool regression = false;
  RunKind kind = RunKind::teacher;
  std::int64_t layers = -1;  // transformer layers of the trained model; -1 unknown
  HyperParams hp;
  std::string train, dev, test, teacher;  // as written in the effective config
  SplitMetrics eval;                      // eval_results.json: the best epoch's dev metrics
  std::vector<MetricsRecord> history;     // metrics.jsonl's epoch lines, in order
  std::vector<MetricsRecord> timeline;    // all its lines, epoch and step, stably sorted by step
  std::vector<std::string> submissions;   // GLUE submission files in dir: "SST-2.tsv", ...

  std::string row() const;  // row_label with the width and the token-level terms
  // The split name of `dev` ("dev", "dev_matched"): the key of its metrics.
  std::string dev_split() const;
};

}  // namespace pkd::report
