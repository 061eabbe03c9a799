#include "report/run_reader.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config/document.h"
#include "config/identity.h"
#include "config/keys.h"
#include "core/error.h"
#include "core/fs.h"
#include "distill/distill_config.h"
#include "metrics/glue_metrics.h"
#include "report/cells.h"
#include "train/finetune_config.h"
#include "train/optimizer_config.h"

namespace pkd::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json parse_json(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(where, " is not valid JSON: ", e.what());
  }
}

// {split: {metric: number}}; null (how NaN is written) reads as NaN.
void read_metrics(const json& j, const std::string& split, const std::string& where,
                  SplitMetrics& out) {
  if (!j.is_object())
    fail(where, ": '", split, "' is ", j.dump(), ": expected an object {metric: value}");
  for (const auto& [name, value] : j.items()) {
    if (!value.is_number() && !value.is_null())
      fail(where, ": ", split, ".", name, " is ", value.dump(), ": expected a number");
    out[split][name] =
        value.is_null() ? std::numeric_limits<double>::quiet_NaN() : value.get<double>();
  }
}

SplitMetrics read_eval_results(const std::string& path) {
  json j = parse_json(read_file(path), path);
  if (!j.is_object() || j.empty())
    fail(path, ": expected an object {split: {metric: value}}, found ", j.dump().substr(0, 80));
  SplitMetrics out;
  for (const auto& [split, metrics] : j.items()) read_metrics(metrics, split, path, out);
  return out;
}

double loss_value(const json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

// metrics.jsonl: its epoch lines into run.history, all its lines into run.timeline. A line of a
// kind this build does not know is skipped: it cannot change the run's result (that is
// eval_results.json), so a newer pkd's additions to the history do not make a run unreadable.
void read_metrics_jsonl(Run& run, const std::string& path) {
  const std::string dev_split = run.dev_split();
  std::istringstream in(read_file(path));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (trim(line).empty()) continue;
    const std::string where = cat(path, " line ", number);
    json j = parse_json(line, where);
    if (!j.is_object()) fail(where, ": expected an object, found ", j.dump().substr(0, 80));
    MetricsRecord r;
    if (j.contains("kind")) {
      if (!j["kind"].is_string())
        fail(where, ": kind is ", j["kind"].dump(), ": expected \"epoch\" or \"step\"");
      const std::string kind = j["kind"].get<std::string>();
      if (kind != "epoch" && kind != "step") continue;
      r.epoch_end = kind == "epoch";
    }
    if (!j.contains("epoch") || !j["epoch"].is_number_integer() || !j.contains("step") ||
        !j["step"].is_number_integer() || !j.contains("train_loss") ||
        !(j["train_loss"].is_number() || j["train_loss"].is_null()))
      fail(where, ": expected an object with integer epoch and step and a number train_loss");
    r.epoch = j["epoch"].get<std::int64_t>();
    r.step = j["step"].get<std::int64_t>();
    r.train_loss = loss_value(j["train_loss"]);
    if (!dev_split.empty() && j.contains(dev_split))
      read_metrics(j[dev_split], dev_split, where, r.dev);
    if (r.epoch_end) run.history.push_back(r);
    run.timeline.push_back(std::move(r));
  }
  std::stable_sort(run.timeline.begin(), run.timeline.end(),
                   [](const MetricsRecord& a, const MetricsRecord& b) { return a.step < b.step; });
}

// `path` as given, else relative to each parent of the run directory (a sweep's work_dir holds
// tokens/ and the runs); "" when neither exists.
std::string resolve(const std::string& path, const std::string& run_dir, const std::string& file) {
  if (path.empty()) return "";
  if (file_exists(path + "/" + file)) return path;
  if (fs::path(path).is_absolute()) return "";
  for (fs::path p = fs::absolute(run_dir).lexically_normal(); p.has_relative_path();
       p = p.parent_path())
    if (file_exists((p / path).string() + "/" + file)) return (p / path).string();
  return "";
}

std::int64_t model_layers(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  json j = parse_json(read_file(path), path);
  if (!j.is_object() || !j.contains("num_hidden_layers") ||
      !j["num_hidden_layers"].is_number_integer())
    fail(path, ": expected a BERT config.json with an integer num_hidden_layers");
  return j["num_hidden_layers"].get<std::int64_t>();
}

// Fails unless the effective config sets `member` of `config` (table `table`). These are the
// keys every effective config has held since pkd report exists; without them a file is damaged
// or not pkd's, and a default would put the run in the wrong row. Any other key an older pkd did
// not write takes its default.
template <class T, class M>
void require(const config::Settings& present, const std::string& path, const char* table, T& config,
             const M& member) {
  const std::string key = config::key_of(table, config, member);
  if (!present.count(key))
    fail(path, ": no key ", key, ": expected the effective config pkd writes beside a run");
}

void require_loop(const config::Settings& present, const std::string& path, const char* table,
                  train::LoopConfig& loop) {
  for (const std::string* key : {&loop.train, &loop.dev, &loop.test})
    require(present, path, table, loop, *key);
  for (const std::int64_t* key : {&loop.epochs, &loop.batch_size, &loop.max_steps, &loop.seed})
    require(present, path, table, loop, *key);
}

void read_loop(Run& run, const train::LoopConfig& loop) {
  run.train = loop.train;
  run.dev = loop.dev;
  run.test = loop.test;
  run.hp.epochs = loop.epochs;
  run.hp.batch_size = loop.batch_size;
  run.hp.max_steps = loop.max_steps;
  run.hp.seed = loop.seed;
}

// The run's effective config, read through the structs pkd wrote it from: [distill] (with
// [distill.loss]) or [finetune], and [optimizer]. [runtime] and [parallel] decide nothing the
// report shows, and their structs are LibTorch-side: they are not read. A key the structs do not
// know (a newer pkd's) makes the run unreadable, as any config would: it may change what the run
// is (a new loss term), and the table must not guess.
void read_config(Run& run, const std::string& path) {
  const std::string text = read_file(path);
  distill::DistillConfig d;
  train::FinetuneConfig f;
  train::OptimizerConfig o;
  config::Settings present;
  try {
    const config::Document doc = config::Document::from_string(text, path);
    present = config::settings_of(text, path);
    doc.read("optimizer", o);
    if (run.command == "distill")
      doc.read("distill", d);
    else
      doc.read("finetune", f);
  } catch (const UsageError& e) {  // a damaged run, not a wrong command line: Error, exit 1
    const bool newer = std::string(e.what()).find("unknown config key") != std::string::npos;
    fail(path, " is not an effective config this pkd reads: ", e.what(),
         newer ? "\n(a run of a newer pkd? report it with that version)" : "");
  }
  require(present, path, "optimizer", o, o.learning_rate);
  run.hp.learning_rate = o.learning_rate;
  std::int64_t init_layers = 0;
  if (run.command == "distill") {
    require_loop(present, path, "distill", d.loop);
    for (const double* key : {&d.loss.alpha, &d.loss.beta, &d.loss.temperature})
      require(present, path, "distill", d, *key);
    require(present, path, "distill", d, d.student_layers);
    require(present, path, "distill", d, d.teacher);
    read_loop(run, d.loop);
    run.teacher = d.teacher;
    run.hp.alpha = d.loss.alpha;
    run.hp.beta = d.loss.beta;
    run.hp.temperature = d.loss.temperature;
    // Keys newer than the first distill runs: absent means their defaults (off).
    run.hp.hidden_weight = d.loss.hidden_weight;
    run.hp.embedding_weight = d.loss.embedding_weight;
    run.hp.attention_weight = d.loss.attention_weight;
    run.hp.attention_loss = d.loss.attention_loss;
    run.hp.student_hidden_size = d.student_hidden_size;
    run.layers = d.student_layers;
  } else {
    require_loop(present, path, "finetune", f.loop);
    require(present, path, "finetune", f, f.init);
    require(present, path, "finetune", f, f.init_layers);
    read_loop(run, f.loop);
    init_layers = f.init_layers;
    if (init_layers > 0) {
      run.layers = init_layers;
    } else if (f.init == "random") {
      require(present, path, "finetune", f, f.random_init.num_hidden_layers);
      run.layers = f.random_init.num_hidden_layers;
    } else if (!file_exists(run.dir + "/model/config.json")) {  // not exported yet: its init's
      const std::string init_dir = resolve(f.init, run.dir, "config.json");
      if (!init_dir.empty()) run.layers = model_layers(init_dir);
    }
  }
  run.kind = classify(
      run.command, init_layers, run.hp.alpha, run.hp.beta,
      run.hp.hidden_weight > 0 || run.hp.embedding_weight > 0 || run.hp.attention_weight > 0);
  if (run.kind == RunKind::pkd) {
    require(present, path, "distill", d, d.loss.layer_map);
    run.hp.layer_map = d.loss.layer_map;
  }
}

// The task: the train split's manifest.json, else the run's GLUE submission file, else MNLI's
// dev split names.
void read_task(Run& run, const std::string& config_path) {
  if (std::string split = resolve(run.train, run.dir, "manifest.json"); !split.empty()) {
    const std::string path = split + "/manifest.json";
    json m = parse_json(read_file(path), path);
    if (!m.is_object() || !m.contains("task") || !m["task"].is_string())
      fail(path, ": expected a token manifest with a string \"task\"");
    run.task = m["task"].get<std::string>();
    run.regression =
        m.contains("regression") && m["regression"].is_boolean() && m["regression"].get<bool>();
  } else if (!run.submissions.empty()) {
    run.task = task_of_submission(run.submissions[0]);
  } else if (run.eval.count("dev_matched") || run.eval.count("dev_mismatched")) {
    run.task = "MNLI";
  } else {
    fail("cannot tell the task of run ", run.dir, ": its train split '", run.train, "' (",
         config_path, ") has no manifest.json here or under any parent of the run, and the run ",
         "has no GLUE submission file");
  }
  run.regression = run.regression || run.task == "STS-B";
}

void check_metrics(const Run& run, const std::string& path) {
  std::vector<std::string> needed = display_metrics(run.task, run.regression);
  needed.push_back(metrics::primary_metric(run.task, run.regression));
  for (const auto& [split, m] : run.eval)
    for (const auto& name : needed)
      if (!m.count(name))
        fail(path, ": ", split, " has no ", name, ": expected the metrics of ", run.task, " (",
             join(display_metrics(run.task, run.regression), ", "), ")");
}

std::string unfinished_reason(const Run& run, bool has_eval) {
  if (!has_eval) return "no eval_results.json: no epoch has finished";
  if (run.history.empty()) return "metrics.jsonl is missing or empty";
  const MetricsRecord& last = run.history.back();
  if (last.epoch < run.hp.epochs && !(run.hp.max_steps > 0 && last.step >= run.hp.max_steps))
    return cat("metrics.jsonl ends at epoch ", last.epoch, " of ", run.hp.epochs,
               " (stopped, preempted or still running: resume with --resume)");
  if (!run.test.empty()) {
    const bool mismatched = fs::path(run.test).lexically_normal().filename() == "test_mismatched";
    const std::string name =
        run.task == "MNLI" ? (mismatched ? "MNLI-mm.tsv" : "MNLI-m.tsv") : run.task + ".tsv";
    if (!file_exists(run.dir + "/" + name))
      return cat("no ", name, ": the test predictions written after the last epoch are missing");
  }
  return "";
}

}  // namespace

Run read_run(const std::string& dir) {
  Run run;
  run.dir = dir;
  const bool finetune = file_exists(dir + "/finetune.toml");
  const bool distill = file_exists(dir + "/distill.toml");
  if (finetune == distill)
    fail(dir, finetune ? " holds both finetune.toml and distill.toml" : " holds no run config",
         ": expected the output directory of one pkd finetune or pkd distill run");
  run.command = finetune ? "finetune" : "distill";
  const std::string config_path = dir + "/" + run.command + ".toml";
  read_config(run, config_path);
  if (file_exists(dir + "/model/config.json")) run.layers = model_layers(dir + "/model");
  const std::string eval_path = dir + "/eval_results.json";
  const bool has_eval = file_exists(eval_path);
  if (has_eval) run.eval = read_eval_results(eval_path);
  if (file_exists(dir + "/metrics.jsonl")) read_metrics_jsonl(run, dir + "/metrics.jsonl");
  for (const auto& task : glue_task_order())
    for (const auto& column : columns_of_task(task))
      if (file_exists(dir + "/" + column.submission)) run.submissions.push_back(column.submission);
  read_task(run, config_path);
  check_metrics(run, eval_path);
  if (run.dev.empty() && !has_eval) {
    run.status = RunStatus::no_dev;
    run.problem = "trained without a dev split (dev = \"\"): nothing to rank it by";
    return run;
  }
  run.problem = unfinished_reason(run, has_eval);
  run.status = run.problem.empty() ? RunStatus::complete : RunStatus::unfinished;
  return run;
}

}  // namespace pkd::report
