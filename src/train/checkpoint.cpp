#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
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

}  // namespace

void save_checkpoint(const std::string& output_dir, const TrainState& s,
                     const model::StateDict& model, const model::BertConfig& model_config,
                     const model::StateDict& optimizer, const std::string& config_toml,
                     std::int64_t keep) {
  const std::string root = output_dir + "/checkpoints";
  make_directories(root);
  const std::string name = step_dir_name(s.global_step);
  const std::string tmp = root + "/" + name + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  make_directories(tmp);
  model::write_state_dict(tmp + "/model.safetensors", model, {{"format", "pt"}});
  write_file_atomic(tmp + "/config.json", model_config.to_json());
  model::write_state_dict(tmp + "/optimizer.safetensors", optimizer);
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
                      {"config_sha256", s.config_sha256},
                      {"loss_scale", s.loss_scale},
                      {"loss_scale_growth", s.loss_scale_growth},
                      {"tool_version", version_string()}};
  write_file_atomic(tmp + "/trainer_state.json", j.dump(2) + "\n");
  write_file_atomic(tmp + "/config.toml", config_toml);
  const std::string final_dir = root + "/" + name;
  fs::remove_all(final_dir);  // a re-save of the same step after a resume
  fs::rename(tmp, final_dir);
  write_file_atomic(root + "/latest", name + "\n");  // last: the checkpoint is complete
  auto all = list_checkpoints(root);
  for (std::size_t i = 0;
       i + static_cast<std::size_t>(std::max<std::int64_t>(1, keep)) < all.size(); ++i)
    if (all[i] != name) fs::remove_all(root + "/" + all[i]);
  for (const auto& e : fs::directory_iterator(root))  // leftovers of interrupted saves
    if (e.path().filename().string().find(".tmp-") != std::string::npos) fs::remove_all(e.path());
}

bool has_checkpoint(const std::string& output_dir) {
  return file_exists(output_dir + "/checkpoints/latest");
}

std::optional<Checkpoint> load_latest_checkpoint(const std::string& output_dir) {
  const std::string latest = output_dir + "/checkpoints/latest";
  if (!file_exists(latest)) return std::nullopt;
  Checkpoint c;
  c.dir = output_dir + "/checkpoints/" + std::string(trim(read_file(latest)));
  const std::string state_path = c.dir + "/trainer_state.json";
  if (!file_exists(state_path))
    fail("'", latest, "' names checkpoint '", c.dir, "', which has no trainer_state.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(state_path));
    if (j.at("format").get<std::string>() != kCheckpointFormat)
      fail("'", state_path, "' is not a pkd training checkpoint (format '",
           j.at("format").get<std::string>(), "')");
    if (j.at("format_version").get<std::int64_t>() != kCheckpointVersion)
      fail("'", state_path, "' is checkpoint format version ", j.at("format_version").dump(),
           "; this pkd reads version ", kCheckpointVersion);
    c.state.epoch = j.at("epoch").get<std::int64_t>();
    c.state.step_in_epoch = j.at("step_in_epoch").get<std::int64_t>();
    c.state.global_step = j.at("global_step").get<std::int64_t>();
    c.state.world_size = j.at("world_size").get<std::int64_t>();
    c.state.best_metric = j.at("best_metric").is_null() ? NAN : j.at("best_metric").get<double>();
    c.state.metrics_jsonl = j.at("metrics_jsonl").get<std::string>();
    c.state.epoch_sums = j.at("epoch_sums").get<std::vector<double>>();
    c.state.epoch_examples = j.at("epoch_examples").get<std::int64_t>();
    c.state.config_sha256 = j.at("config_sha256").get<std::string>();
    // Optional: checkpoints written before float16 training had no loss scale.
    c.state.loss_scale = j.value("loss_scale", 1.0);
    c.state.loss_scale_growth = j.value("loss_scale_growth", std::int64_t{0});
    if (!(c.state.loss_scale > 0) || !std::isfinite(c.state.loss_scale) ||
        c.state.loss_scale_growth < 0)
      fail("'", state_path, "': loss_scale must be a positive finite number and loss_scale_growth ",
           ">= 0, got ", c.state.loss_scale, " and ", c.state.loss_scale_growth);
  } catch (const nlohmann::json::exception& e) {
    fail("'", state_path, "' is not a valid trainer state: ", e.what());
  }
  c.model = model::read_safetensors(c.dir + "/model.safetensors");
  c.optimizer = model::read_safetensors(c.dir + "/optimizer.safetensors");
  return c;
}

}  // namespace pkd::train
