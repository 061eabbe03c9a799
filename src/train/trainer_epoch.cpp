// Evaluations (every eval_every steps and at epoch ends) and the end of training: the
// metrics.jsonl line, the dev evaluation with the task's official metric, the export of the best
// evaluation, and after the last epoch the test and extra splits run with the best weights.
#include <torch/cuda.h>

#include <cmath>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/strings.h"
#include "inference/predict.h"
#include "metrics/glue_metrics.h"
#include "train/training_run.h"

namespace pkd::train {

void LossTotals::add(const torch::Tensor& step_sums, std::int64_t n) {
  sums.add_(step_sums);
  examples += n;
}

void LossTotals::reset() {
  sums.zero_();
  examples = 0;
}

std::vector<double> LossTotals::host_sums() const {
  const torch::Tensor host = sums.to(torch::kCPU).contiguous();
  const double* p = host.data_ptr<double>();
  return {p, p + host.numel()};
}

std::vector<double> LossTotals::means() const {
  std::vector<double> m = host_sums();
  for (double& x : m) x /= static_cast<double>(std::max<std::int64_t>(1, examples));
  return m;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A run whose loss became NaN or infinite (a learning rate too high for its precision, or
// non-finite inputs such as a broken teacher's features) would otherwise go on stepping on
// non-finite gradients (with CUDA graphs without the host noticing) and export a broken model.
// The means are the sums all-reduced over ranks, so every rank sees the same value; comm.any
// agrees anyway. float16 is exempt: its loss scaler skips the steps whose gradients overflowed,
// and the loss of a skipped step may be infinite while the weights stay finite.
void TrainingRun::stop_if_diverged(double mean_loss, const std::string& over) {
  if (runner_.scaler().active() || !comm_.any(!std::isfinite(mean_loss))) return;
  fail("training diverged: the mean training loss ", over, " is ",
       std::isnan(mean_loss) ? "NaN" : (mean_loss > 0 ? "+inf" : "-inf"), " (by step ", step_,
       "). pkd stops rather than train on and export non-finite weights: lower "
       "optimizer.learning_rate or warm up longer (optimizer.warmup_proportion), train in "
       "float32, or check the inputs (teacher features)");
}

// A dev evaluation between epoch ends (eval_every): a curve point in metrics.jsonl, and a
// candidate for the exported model like an epoch end.
void TrainingRun::evaluate_step(std::int64_t epoch) {
  const std::vector<double> means = since_eval_.means();
  stop_if_diverged(means[0], "since the last evaluation");
  nlohmann::json line = {{"kind", "step"},
                         {"epoch", epoch + 1},
                         {"step", step_},
                         {"learning_rate", learning_rate()},
                         {"train_loss", means[0]}};
  since_eval_.reset();
  evaluate_and_record(line, cat("step ", step_));
}

void TrainingRun::end_epoch(std::int64_t epoch, const LossTotals& totals, double seconds,
                            const StepProfile& profile, std::int64_t profiled_steps) {
  const std::vector<double> means = totals.means();
  stop_if_diverged(means[0], cat("of epoch ", epoch + 1));
  nlohmann::json line = {{"kind", "epoch"},
                         {"epoch", epoch + 1},
                         {"step", step_},
                         {"train_loss", means[0]},
                         {"learning_rate", learning_rate()},
                         {"examples_per_s", static_cast<double>(totals.examples) / seconds},
                         {"step_seconds", profile.per_step(profiled_steps)}};
  log_debug("epoch ", epoch + 1, " seconds per step on this rank: ", line["step_seconds"].dump());
  if (const auto overlap = profile.overlap_per_step(profiled_steps); !overlap.is_null())
    line["overlapped_buckets"] = overlap;
  for (std::size_t k = 0; k < part_names_.size(); ++k)
    line["train_" + part_names_[k]] = means[k + 1];
  if (loop_.eval_every > 0) since_eval_.reset();
  evaluate_and_record(line, cat("epoch ", epoch + 1));
}

void TrainingRun::evaluate_and_record(nlohmann::json& line, const std::string& when) {
  StepBatches::Pause pause(batches_);  // the dev split is read through HDF5 too
  bool better = loop_.dev.empty();
  if (!loop_.dev.empty()) {
    auto p = inference::predict_split(m_, runtime_, loop_.dev, loop_.eval_batch_size, comm_);
    if (comm_.is_root()) {
      auto dev_metrics = inference::split_metrics(p);
      line[p.split] = dev_metrics;
      const double value = dev_metrics.at(result_.metric_name);
      better = std::isnan(result_.best_metric) || value > result_.best_metric;
      if (better) {
        result_.best_metric = value;
        write_file_atomic(loop_.output_dir + "/eval_results.json",
                          nlohmann::json({{p.split, dev_metrics}}).dump(2) + "\n");
      }
      log_info(when, ": ", p.split, " ", result_.metric_name, " ", value,
               better ? " (best so far)" : "");
    }
    better = comm_.broadcast_value(better);
  }
  if (comm_.is_root()) {
    state_.metrics_jsonl += line.dump() + "\n";
    write_file_atomic(loop_.output_dir + "/metrics.jsonl", state_.metrics_jsonl);
    if (better) model::export_pretrained(m_, loop_.output_dir + "/model", setup_.vocab_path);
  }
  if (better && needs_best_) {
    best_.clear();
    for (auto& [name, t] : model::model_state(m_)) best_[name] = t.detach().clone();
  }
}

// With the exported (best) weights: GLUE submission files of the test splits
// (OUTPUT_DIR/SST-2.tsv, MNLI-mm.tsv, ...) and the metrics of the extra dev splits, merged into
// eval_results.json.
void TrainingRun::finish_with_best() {
  StepBatches::Pause pause(batches_);
  {
    torch::NoGradGuard no_grad;
    if (best_.empty()) {  // a resumed run whose best epoch came before the interruption
      auto exported = model::read_checkpoint_dir(loop_.output_dir + "/model");
      for (auto& [name, t] : model::model_state(m_)) {
        auto it = exported.find(name);
        if (it != exported.end()) t.copy_(it->second);
      }
    } else {
      for (auto& [name, t] : model::model_state(m_)) t.copy_(best_.at(name));
    }
  }
  std::vector<std::string> tests = loop_.extra_test;
  if (!loop_.test.empty()) tests.insert(tests.begin(), loop_.test);
  for (const auto& split : tests) {
    auto p = inference::predict_split(m_, runtime_, split, loop_.eval_batch_size, comm_);
    if (comm_.is_root())
      inference::write_submission(
          p, loop_.output_dir + "/" + inference::glue_submission_name(p.task, p.split));
  }
  if (loop_.extra_dev.empty()) return;
  const std::string path = loop_.output_dir + "/eval_results.json";
  nlohmann::json results = nlohmann::json::object();
  if (comm_.is_root() && file_exists(path)) results = nlohmann::json::parse(read_file(path));
  for (const auto& split : loop_.extra_dev) {
    auto p = inference::predict_split(m_, runtime_, split, loop_.eval_batch_size, comm_);
    if (comm_.is_root()) {
      results[p.split] = inference::split_metrics(p);
      log_info("exported model: ", p.split, " ", results[p.split].dump());
    }
  }
  if (comm_.is_root()) write_file_atomic(path, results.dump(2) + "\n");
}

}  // namespace pkd::train
