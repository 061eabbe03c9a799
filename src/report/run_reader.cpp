#include "report/run_reader.h"

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <toml.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "metrics/glue_metrics.h"
#include "report/cells.h"

namespace pkd::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The keys of a run's effective config (finetune.toml / distill.toml) that the report uses.
class EffectiveConfig {
 public:
  explicit EffectiveConfig(const std::string& path) : path_(path) {
    std::istringstream in(read_file(path));
    try {
      root_ = toml::parse(in, path);
    } catch (const std::exception& e) {
      fail(path, " is not a readable effective config (TOML): ", e.what());
    }
  }
  std::string text(const std::string& key) const {
    const toml::value& v = at(key);
    if (!v.is_string()) wrong_type(key, v, "a string");
    return v.as_string().str;
  }
  double number(const std::string& key) const {
    const toml::value& v = at(key);
    if (v.is_integer()) return static_cast<double>(v.as_integer());
    if (!v.is_floating()) wrong_type(key, v, "a number");
    return v.as_floating();
  }
  std::int64_t integer(const std::string& key) const {
    const toml::value& v = at(key);
    if (!v.is_integer()) wrong_type(key, v, "an integer");
    return v.as_integer();
  }

 private:
  const toml::value& at(const std::string& dotted) const {
    const toml::value* v = &root_;
    for (const auto& part : split(dotted, '.')) {
      if (!v->is_table() || !v->as_table().count(part))
        fail(path_, ": no key ", dotted, ": expected the effective config pkd writes beside a run");
      v = &v->as_table().at(part);
    }
    return *v;
  }
  [[noreturn]] void wrong_type(const std::string& key, const toml::value& v,
                               const char* expected) const {
    fail(path_, ": ", key, " is ", toml::format(v), ": expected ", expected);
  }

  std::string path_;
  toml::value root_;
};

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

std::vector<EpochRecord> read_history(const std::string& path, const std::string& dev_split) {
  std::vector<EpochRecord> history;
  std::istringstream in(read_file(path));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (trim(line).empty()) continue;
    const std::string where = cat(path, " line ", number);
    json j = parse_json(line, where);
    if (!j.is_object() || !j.contains("epoch") || !j["epoch"].is_number_integer() ||
        !j.contains("step") || !j["step"].is_number_integer() || !j.contains("train_loss") ||
        !j["train_loss"].is_number())
      fail(where, ": expected an object with integer epoch and step and a number train_loss");
    EpochRecord r;
    r.epoch = j["epoch"].get<std::int64_t>();
    r.step = j["step"].get<std::int64_t>();
    r.train_loss = j["train_loss"].get<double>();
    if (!dev_split.empty() && j.contains(dev_split))
      read_metrics(j[dev_split], dev_split, where, r.dev);
    history.push_back(std::move(r));
  }
  return history;
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

void read_config(Run& run, const EffectiveConfig& c) {
  const std::string& t = run.command;
  run.train = c.text(t + ".train");
  run.dev = c.text(t + ".dev");
  run.test = c.text(t + ".test");
  run.hp.learning_rate = c.number("optimizer.learning_rate");
  run.hp.epochs = c.integer(t + ".epochs");
  run.hp.batch_size = c.integer(t + ".batch_size");
  run.hp.max_steps = c.integer(t + ".max_steps");
  run.hp.seed = c.integer(t + ".seed");
  std::int64_t init_layers = 0;
  if (t == "distill") {
    run.teacher = c.text("distill.teacher");
    run.hp.alpha = c.number("distill.loss.alpha");
    run.hp.beta = c.number("distill.loss.beta");
    run.hp.temperature = c.number("distill.loss.temperature");
    run.layers = c.integer("distill.student_layers");
  } else {
    init_layers = c.integer("finetune.init_layers");
    const std::string init = c.text("finetune.init");
    if (init_layers > 0) {
      run.layers = init_layers;
    } else if (init == "random") {
      run.layers = c.integer("finetune.random_init.num_hidden_layers");
    } else if (!file_exists(run.dir + "/model/config.json")) {  // not exported yet: its init's
      const std::string init_dir = resolve(init, run.dir, "config.json");
      if (!init_dir.empty()) run.layers = model_layers(init_dir);
    }
  }
  run.kind = classify(t, init_layers, run.hp.alpha, run.hp.beta);
  if (run.kind == RunKind::pkd) run.hp.layer_map = c.text("distill.loss.layer_map");
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
  const EpochRecord& last = run.history.back();
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
  read_config(run, EffectiveConfig(config_path));
  if (file_exists(dir + "/model/config.json")) run.layers = model_layers(dir + "/model");
  const std::string eval_path = dir + "/eval_results.json";
  const bool has_eval = file_exists(eval_path);
  if (has_eval) run.eval = read_eval_results(eval_path);
  if (file_exists(dir + "/metrics.jsonl"))
    run.history = read_history(dir + "/metrics.jsonl", run.dev_split());
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
