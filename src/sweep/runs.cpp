#include "sweep/runs.h"

#include <map>
#include <set>

#include "config/keys.h"
#include "core/error.h"
#include "core/strings.h"
#include "distill/distill_config.h"
#include "train/finetune_config.h"

namespace pkd::sweep {
namespace {

// Short run-name label of a config key: its last component, abbreviated for the paper's axes.
std::string label(const std::string& key) {
  static const std::map<std::string, std::string> kShort = {{"temperature", "T"},
                                                            {"alpha", "a"},
                                                            {"beta", "b"},
                                                            {"learning_rate", "lr"},
                                                            {"student_layers", "k"},
                                                            {"layer_map", "map"},
                                                            {"seed", "seed"},
                                                            {"epochs", "ep"},
                                                            {"batch_size", "bs"},
                                                            {"hidden_weight", "hid"},
                                                            {"embedding_weight", "emb"},
                                                            {"attention_weight", "att"},
                                                            {"attention_loss", "attl"},
                                                            {"student_hidden_size", "w"}};
  const std::string last = key.substr(key.rfind('.') + 1);
  auto it = kShort.find(last);
  return it == kShort.end() ? last : it->second;
}

// A value as part of a directory name: "/models/bert" -> "_models_bert" (no path separators).
std::string name_part(const std::string& value) {
  std::string out;
  for (char c : value) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '+' || c == '-';
    out += keep ? c : '_';
  }
  return out;
}

// One group of runs: its axes (after sweep.common's), name prefix and the keys forced to 0.
struct Group {
  const char* where;                     // the [sweep] key of its axes
  const std::vector<std::string>* axes;  // nullptr: no such group
  const char* prefix;
  std::vector<std::string> forced;  // keys set to 0 in every run of the group
  const char* what;                 // what the forced values make of the runs, for messages
  std::int64_t DistillRuns::*count;
};

}  // namespace

Axis parse_axis(const std::string& text, const std::string& where) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    usage_fail(where, " axis '", text, "' is not \"key=value1,value2,...\"");
  Axis axis{std::string(trim(text.substr(0, eq))), {}};
  for (const auto& v : split(text.substr(eq + 1), ',')) {
    const std::string value(trim(v));
    if (value.empty()) usage_fail(where, " axis '", text, "' has an empty value");
    if (value.find_first_of("\t\n") != std::string::npos)
      usage_fail(where, " axis '", text, "' has a value with a tab or newline");
    axis.values.push_back(value);
  }
  return axis;
}

std::vector<GridPoint> expand_grid(const std::vector<std::string>& axes,
                                   const std::string& prefix) {
  std::vector<GridPoint> points = {{prefix, {}}};
  for (const auto& text : axes) {
    const Axis axis = parse_axis(text, "grid");
    std::vector<GridPoint> next;
    for (const auto& p : points)
      for (const auto& value : axis.values) {
        GridPoint q = p;
        q.name += (q.name.empty() ? "" : "-") + label(axis.key) + name_part(value);
        q.sets.push_back(axis.key + "=" + value);
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  return points;
}

const SweepKeys& sweep_keys() {
  static const SweepKeys keys = [] {
    distill::DistillConfig d;
    train::FinetuneConfig f;
    SweepKeys k;
    k.alpha = config::key_of("distill", d, d.loss.alpha);
    k.beta = config::key_of("distill", d, d.loss.beta);
    k.teacher = config::key_of("distill", d, d.teacher);
    k.student_init = config::key_of("distill", d, d.student_init);
    k.finetune_init = config::key_of("finetune", f, f.init);
    return k;
  }();
  return keys;
}

DistillRuns distill_runs(const SweepConfig& c) {
  const SweepKeys& k = sweep_keys();
  // sweep.grid = [] is one PKD run with the configs' values; kd = [] and baseline = [] are none.
  const Group groups[] = {
      {"sweep.grid", &c.grid, "pkd", {}, "", &DistillRuns::pkd},
      {"sweep.kd", c.kd.empty() ? nullptr : &c.kd, "kd", {k.beta}, "vanilla KD", &DistillRuns::kd},
      {"sweep.baseline",
       c.baseline.empty() ? nullptr : &c.baseline,
       "ft",
       {k.alpha, k.beta},
       "fine-tuned baseline",
       &DistillRuns::ft}};
  for (const auto& a : c.common) parse_axis(a, "sweep.common");
  DistillRuns out;
  for (const auto& g : groups) {
    if (g.axes == nullptr) continue;
    std::vector<std::string> axes = c.common;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < c.common.size() + g.axes->size(); ++i) {
      const bool common = i < c.common.size();
      const std::string& text = common ? c.common[i] : (*g.axes)[i - c.common.size()];
      const Axis axis = parse_axis(text, common ? "sweep.common" : g.where);
      for (const auto& f : g.forced)
        if (axis.key == f)
          usage_fail(common ? "sweep.common" : g.where, ": ", f, " is 0 in every ", g.what,
                     " run (", g.where, "), so it cannot be an axis there");
      if (!seen.insert(axis.key).second)
        usage_fail(common ? "sweep.common" : g.where, ": ", axis.key, " is an axis twice (",
                   g.where, " and sweep.common together may name a key once)");
      if (!common) axes.push_back(text);
    }
    auto points = expand_grid(axes, g.prefix);
    for (auto& p : points)  // after the axes: the forced values win
      for (const auto& f : g.forced) p.sets.push_back(f + "=0");
    out.*g.count = static_cast<std::int64_t>(points.size());
    for (auto& p : points) out.runs.push_back(std::move(p));
  }
  std::set<std::string> names;
  for (const auto& r : out.runs)
    if (!names.insert(r.name).second)
      usage_fail("sweep: two distillation runs would both write students/<TASK>/", r.name,
                 " (their values differ only in characters a directory name cannot hold, or two "
                 "keys share a label): rename a value or an axis");
  return out;
}

}  // namespace pkd::sweep
