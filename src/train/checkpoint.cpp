#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/json_fields.h"
#include "core/strings.h"
#include "core/version.h"

namespace pkd::train {
namespace {

namespace fs = std::filesystem;

std::string step_dir_name(std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  return name;
}

// Checkpoint directories, oldest first.
std::vector<std::string> list_checkpoints(const std::string& root) {
  std::vector<std::string> names;
  if (!is_directory(root)) return names;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && starts_with(name, "step-") && name.find('.') == std::string::npos)
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void write_checkpoint_files(const std::string& tmp, const TrainState& s,
                            const model::StateDict& model, const model::BertConfig& model_config,
                            const model::StateDict& optimizer, const model::StateDict& objective,
                            const std::string& config_toml) {
  model::write_state_dict(tmp + "/model.safetensors", model, {{"format", "pt"}});
  write_file_atomic(tmp + "/config.json", model_config.to_json());
  model::write_state_dict(tmp + "/optimizer.safetensors", optimizer);
  if (!objective.empty()) model::write_state_dict(tmp + "/objective.safetensors", objective);
  nlohmann::json j = {{"format", kCheckpointFormat},
                      {"format_version", kCheckpointVersion},
                      {"epoch", s.epoch},
                      {"step_in_epoch", s.step_in_epoch},
                      {"global_step", s.global_step},
                      {"world_size", s.world_size},
                      {"best_metric", std::isnan(s.best_metric) ? nlohmann::json(nullptr)
                                                                : nlohmann::json(s.best_metric)},
                      {"metrics_jsonl", s.metrics_jsonl},
                      {"epoch_sums", s.epoch_sums},
                      {"epoch_examples", s.epoch_examples},
                      {"eval_sums", s.eval_sums},
                      {"eval_examples", s.eval_examples},
                      {"config_sha256", s.config_sha256},
                      {"loss_scale", s.loss_scale},
                      {"loss_scale_growth", s.loss_scale_growth},
                      {"inputs", s.inputs},
                      {"tool_version", version_string()}};
  write_file_atomic(tmp + "/trainer_state.json", j.dump(2) + "\n");
  write_file_atomic(tmp + "/config.toml", config_toml);
}

}  // namespace

void save_checkpoint(const std::string& output_dir, const TrainState& s,
                     const model::StateDict& model, const model::BertConfig& model_config,
                     const model::StateDict& optimizer, const model::StateDict& objective,
                     const std::string& config_toml, std::int64_t keep) {
  const std::string root = output_dir + "/checkpoints";
  make_directories(root);
  const std::string name = step_dir_name(s.global_step);
  const std::string tmp = root + "/" + name + ".tmp-" + std::to_string(::getpid());
  remove_tree(tmp);
  make_directories(tmp);
  try {
    write_checkpoint_files(tmp, s, model, model_config, optimizer, objective, config_toml);
  } catch (...) {  // a full disk: nothing half-written stays behind
    remove_tree_quietly(tmp);
    throw;
  }
  const std::string final_dir = root + "/" + name;
  remove_tree(final_dir);  // a re-save of the same step after a resume
  fs::rename(tmp, final_dir);
  write_file_atomic(root + "/latest", name + "\n");  // last: the checkpoint is complete
  auto all = list_checkpoints(root);
  for (std::size_t i = 0;
       i + static_cast<std::size_t>(std::max<std::int64_t>(1, keep)) < all.size(); ++i)
    if (all[i] != name) remove_tree(root + "/" + all[i]);
  for (const auto& e : fs::directory_iterator(root))  // leftovers of interrupted saves
    if (e.path().filename().string().find(".tmp-") != std::string::npos)
      remove_tree(e.path().string());
}

bool has_checkpoint(const std::string& output_dir) {
  return file_exists(output_dir + "/checkpoints/latest");
}

std::optional<Checkpoint> load_latest_checkpoint(const std::string& output_dir) {
  const std::string latest = output_dir + "/checkpoints/latest";
  if (!file_exists(latest)) return std::nullopt;
  Checkpoint c;
  const std::string name(trim(read_file(latest)));
  // `latest` names a directory beside it, nothing else (never a path out of checkpoints/).
  const bool well_formed = name.size() > 5 && name.compare(0, 5, "step-") == 0 &&
                           name.find_first_not_of("0123456789", 5) == std::string::npos;
  if (!well_formed)
    fail("'", latest, "' holds \"", name.substr(0, 80), "\", expected \"step-NNNNNNNN\"");
  c.dir = output_dir + "/checkpoints/" + name;
  const std::string state_path = c.dir + "/trainer_state.json";
  if (!file_exists(state_path))
    fail("'", latest, "' names checkpoint '", c.dir, "', which has no trainer_state.json");
  try {
    const auto doc = nlohmann::json::parse(read_file(state_path));
    const JsonFields j(doc, state_path);
    if (j.text("format") != kCheckpointFormat)
      fail("'", state_path, "' is not a pkd training checkpoint (format '", j.text("format"), "')");
    if (const auto v = j.count("format_version", 0, 1 << 20); v != kCheckpointVersion)
      fail("'", state_path, "' is checkpoint format version ", v, "; this pkd reads version ",
           kCheckpointVersion);
    // Intrinsic bounds here; against the run (epochs, steps) in the trainer's resume.
    constexpr std::int64_t kMax = std::int64_t{1} << 40;
    c.state.epoch = j.count("epoch", 0, kMax);
    c.state.step_in_epoch = j.count("step_in_epoch", 0, kMax);
    c.state.global_step = j.count("global_step", 0, kMax);
    c.state.world_size = j.count("world_size", 1, 1 << 20);
    const auto& best = j.at("best_metric");
    if (!best.is_null() && !best.is_number())
      fail("'", state_path, "': best_metric is ", best.dump(), ", expected a number or null");
    c.state.best_metric = best.is_null() ? NAN : best.get<double>();
    c.state.metrics_jsonl = j.text("metrics_jsonl");
    c.state.epoch_sums = j.at("epoch_sums").get<std::vector<double>>();
    for (double x : c.state.epoch_sums)
      if (!std::isfinite(x))
        fail("'", state_path, "': epoch_sums holds ", x, ", expected finite loss sums");
    c.state.epoch_examples = j.count("epoch_examples", 0, kMax);
    // Optional: checkpoints written before eval_sums resume the evaluation's mean from zero.
    if (doc.contains("eval_sums")) {
      c.state.eval_sums = j.at("eval_sums").get<std::vector<double>>();
      for (double x : c.state.eval_sums)
        if (!std::isfinite(x))
          fail("'", state_path, "': eval_sums holds ", x, ", expected finite loss sums");
      c.state.eval_examples = j.count("eval_examples", 0, kMax);
    }
    c.state.config_sha256 = j.sha256("config_sha256");
    // Optional: checkpoints written before float16 training had no loss scale, before input
    // checks no inputs.
    c.state.loss_scale = doc.value("loss_scale", 1.0);
    c.state.loss_scale_growth =
        doc.contains("loss_scale_growth") ? j.count("loss_scale_growth", 0, kMax) : 0;
    if (!(c.state.loss_scale > 0) || !std::isfinite(c.state.loss_scale))
      fail("'", state_path, "': loss_scale must be a positive finite number, got ",
           c.state.loss_scale);
    if (doc.contains("inputs"))
      c.state.inputs = doc.at("inputs").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail("'", state_path, "' is not a valid trainer state: ", e.what());
  }
  c.model = model::read_safetensors(c.dir + "/model.safetensors");
  c.optimizer = model::read_safetensors(c.dir + "/optimizer.safetensors");
  if (file_exists(c.dir + "/objective.safetensors"))
    c.objective = model::read_safetensors(c.dir + "/objective.safetensors");
  return c;
}

}  // namespace pkd::train
