// pkd report's reading of run directories written by hand: what it reads from each file (the
// effective config through the config structs, metrics.jsonl's epoch and step lines), and how
// unfinished and unreadable runs are told apart.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"
#include "report/report.h"
#include "report/run_reader.h"
#include "support/test_support.h"
#include "unit/report_runs.h"

namespace pkd::report {
namespace {

using test::TempDir;
using test::write_text;
using test_runs::FakeRun;
using test_runs::write_run;

// `text` with `from` replaced by `to` (once; `from` must occur).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

// "usage" (UsageError), "error" (Error) or "none": what reading the run throws.
std::string error_kind(const std::string& dir) {
  try {
    read_run(dir);
  } catch (const UsageError&) {
    return "usage";
  } catch (const Error&) {
    return "error";
  }
  return "none";
}
TEST(ReportRead, EverythingTheTableNeeds) {
  TempDir root;
  FakeRun f;
  f.alpha = 0.7;
  f.beta = 500;
  f.layer_map = "last";
  const report::Run r = read_run(write_run(root, "students/pkd", f));
  EXPECT_EQ(r.status, RunStatus::complete) << r.problem;
  EXPECT_EQ(r.command, "distill");
  EXPECT_EQ(r.task, "SST-2");  // from the manifest, found under a parent of the run
  EXPECT_EQ(r.row(), "BERT6-PKD-Last");
  EXPECT_DOUBLE_EQ(r.hp.alpha, 0.7);
  EXPECT_DOUBLE_EQ(r.hp.beta, 500);
  EXPECT_DOUBLE_EQ(r.hp.learning_rate, 2e-5);
  EXPECT_EQ(r.hp.epochs, 3);
  ASSERT_EQ(r.history.size(), 3u);
  EXPECT_DOUBLE_EQ(r.history[1].dev.at("dev").at("accuracy"), 0.7);
  EXPECT_DOUBLE_EQ(r.eval.at("dev").at("accuracy"), 0.9);
  EXPECT_EQ(r.submissions, std::vector<std::string>{"SST-2.tsv"});

  FakeRun teacher;
  teacher.command = "finetune";
  teacher.layers = 12;
  EXPECT_EQ(read_run(write_run(root, "teacher", teacher)).row(), "BERT12 (teacher)");
  teacher.init_layers = 6;
  teacher.model = false;  // unexported: the layers come from init_layers
  EXPECT_EQ(read_run(write_run(root, "student-ft", teacher)).row(), "BERT6-FT");
}

TEST(ReportRead, ConfigThroughTheStructs) {
  TempDir root;
  const std::string dir = write_run(root, "run", FakeRun{});
  const std::string path = dir + "/distill.toml", text = read_file(path);
  // The config holds few of the keys of [distill] (an older pkd's run): the others take their
  // defaults. [runtime] and [parallel] are not read, whatever they hold.
  write_text(path, text + "[runtime]\nfuture_key = 1\n[parallel]\nother = \"x\"\n");
  EXPECT_EQ(read_run(dir).status, RunStatus::complete) << read_run(dir).problem;

  // A key the structs do not know (a newer pkd's run): unreadable, naming the file and the key.
  write_text(path, replaced(text, "seed = 42\n", "seed = 42\neval_sometimes = 7\n"));
  std::string e = test::error_of([&] { read_run(dir); });
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("unknown config key 'distill.eval_sometimes'"), std::string::npos) << e;
  EXPECT_NE(e.find("newer pkd"), std::string::npos) << e;
  EXPECT_EQ(error_kind(dir), "error");  // a damaged run, not a usage error (exit 1, not 2)
  write_text(path, replaced(text, "beta = 100", "beta = \"high\""));
  e = test::error_of([&] { read_run(dir); });
  EXPECT_NE(e.find("'distill.loss.beta' must be a number"), std::string::npos) << e;
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_EQ(error_kind(dir), "error");
  // The keys pkd has always written are required: a default would put the run in a wrong row.
  write_text(path, replaced(text, "alpha = 0.5\n", ""));
  e = test::error_of([&] { read_run(dir); });
  EXPECT_NE(e.find(path + ": no key distill.loss.alpha"), std::string::npos) << e;
  write_text(path, replaced(text, "[optimizer]\nlearning_rate", "[optimizer]\nweight_decay"));
  EXPECT_NE(test::error_of([&] { read_run(dir); }).find("no key optimizer.learning_rate"),
            std::string::npos);
  write_text(path, "");
  EXPECT_NE(test::error_of([&] { read_run(dir); }).find("no key"), std::string::npos);
}

// A run trained with eval_every: step lines between the epoch lines of metrics.jsonl.
const char* kStepHistory =
    R"({"kind": "step", "epoch": 1, "step": 4, "learning_rate": 1e-5, "train_loss": 0.9, "dev": {"accuracy": 0.55}}
{"kind": "step", "epoch": 1, "step": 8, "learning_rate": 1e-5, "train_loss": 0.8, "dev": {"accuracy": 0.6}}
{"kind": "epoch", "epoch": 1, "step": 10, "train_loss": 0.85, "examples_per_s": 90.5, "dev": {"accuracy": 0.62}}
{"kind": "step", "epoch": 2, "step": 14, "learning_rate": 1e-5, "train_loss": null, "dev": {"accuracy": 0.65}}
{"kind": "future", "step": 15}
{"kind": "step", "epoch": 2, "step": 16, "learning_rate": 1e-5, "train_loss": 0.5, "dev": {"accuracy": 0.68}}
{"epoch": 2, "step": 20, "train_loss": 0.6, "dev": {"accuracy": 0.7}}
)";

TEST(ReportRead, StepEvaluationsJoinTheCurvesNotTheHistory) {
  TempDir root;
  FakeRun f;
  f.epochs = 2;
  const std::string dir = write_run(root, "run", f);
  write_text(dir + "/metrics.jsonl", kStepHistory);
  const report::Run r = read_run(dir);
  EXPECT_EQ(r.status, RunStatus::complete) << r.problem;
  // The history is the epoch lines ("kind": "epoch", or no kind as before eval_every); the
  // line of an unknown kind is skipped.
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.history[0].step, 10);
  EXPECT_EQ(r.history[1].epoch, 2);
  EXPECT_DOUBLE_EQ(r.history[1].train_loss, 0.6);
  ASSERT_EQ(r.timeline.size(), 6u);
  EXPECT_FALSE(r.timeline[3].epoch_end);
  EXPECT_TRUE(std::isnan(r.timeline[3].train_loss));  // null: a diverged loss

  // Dev over steps from step and epoch lines alike; the loss from the step lines only (each the
  // mean since the previous line).
  Series dev{"dev", {}}, loss{"loss", {}};
  add_run_curves(r, "accuracy", dev, loss);
  using Points = std::vector<std::pair<double, double>>;
  ASSERT_EQ(dev.points.size(), 6u);
  const Points expected_dev = {{4, 55}, {8, 60}, {10, 62}, {14, 65}, {16, 68}, {20, 70}};
  for (std::size_t i = 0; i < dev.points.size(); ++i) {
    EXPECT_EQ(dev.points[i].first, expected_dev[i].first) << i;
    EXPECT_NEAR(dev.points[i].second, expected_dev[i].second, 1e-9) << i;
  }
  ASSERT_EQ(loss.points.size(), 4u);
  EXPECT_EQ(loss.points[1], (std::pair<double, double>{8, 0.8}));
  EXPECT_EQ(loss.points[3], (std::pair<double, double>{16, 0.5}));
  // Without step lines, the loss is the epoch lines' (the run's step at each epoch end).
  report::Run epochs_only = r;
  epochs_only.timeline = r.history;
  dev.points.clear();
  loss.points.clear();
  add_run_curves(epochs_only, "accuracy", dev, loss);
  EXPECT_EQ(loss.points, (Points{{10, 0.85}, {20, 0.6}}));
  EXPECT_EQ(dev.points.size(), 2u);

  // The curves figure: 6 dev points and 3 loss points (NaN is not drawn).
  const std::vector<report::Run> runs = {r};
  const auto figures = make_figures(runs, build_table(runs));
  ASSERT_FALSE(figures.empty());
  EXPECT_EQ(figures[0].file, "curves-SST-2.svg");
  std::size_t circles = 0;
  for (auto at = figures[0].svg.find("<circle"); at != std::string::npos;
       at = figures[0].svg.find("<circle", at + 1))
    ++circles;
  EXPECT_EQ(circles, 9u);

  // Step lines after the last epoch line do not finish an epoch.
  f.epochs = 3;
  const std::string stopped = write_run(root, "stopped", f);
  write_text(
      stopped + "/metrics.jsonl",
      std::string(kStepHistory) +
          R"({"kind": "step", "epoch": 3, "step": 24, "train_loss": 0.4, "dev": {"accuracy": 0.7}})");
  EXPECT_NE(read_run(stopped).problem.find("metrics.jsonl ends at epoch 2 of 3"),
            std::string::npos);
  write_text(stopped + "/metrics.jsonl", R"({"kind": 2, "epoch": 1, "step": 4, "train_loss": 1})");
  EXPECT_NE(test::error_of([&] { read_run(stopped); }).find("metrics.jsonl line 1: kind is 2"),
            std::string::npos);
}

TEST(ReportRead, UnfinishedRunsSayWhy) {
  TempDir root;
  FakeRun f;
  f.epochs_done = 2;
  report::Run r = read_run(write_run(root, "a", f));
  EXPECT_EQ(r.status, RunStatus::unfinished);
  EXPECT_NE(r.problem.find("metrics.jsonl ends at epoch 2 of 3"), std::string::npos) << r.problem;
  f = FakeRun{};
  f.eval = "";
  f.epochs_done = 0;
  r = read_run(write_run(root, "b", f));
  EXPECT_EQ(r.status, RunStatus::unfinished);
  EXPECT_NE(r.problem.find("no eval_results.json"), std::string::npos) << r.problem;
  f = FakeRun{};
  f.submission = false;
  r = read_run(write_run(root, "c", f));
  EXPECT_NE(r.problem.find("no SST-2.tsv"), std::string::npos) << r.problem;
  f.test_split = false;  // no test split configured: no file expected
  EXPECT_EQ(read_run(write_run(root, "d", f)).status, RunStatus::complete);
}

TEST(ReportRead, UnreadableRunsNameTheFile) {
  TempDir root;
  FakeRun f;
  f.eval = R"({"dev": {"accuracy": 0.9)";
  const std::string bad_json = write_run(root, "runs/bad-json", f);
  f.eval = R"({"dev": {"accuracy": 0.9}})";
  f.task = "MRPC";  // MRPC's dev metrics need f1
  const std::string no_f1 = write_run(root, "runs/no-f1", f);
  f.task = "SST-2";
  const std::string bad_toml = write_run(root, "runs/bad-toml", f);
  write_text(bad_toml + "/distill.toml", "[distill\nalpha = ");
  const std::string good = write_run(root, "runs/good", f);

  EXPECT_NE(test::error_of([&] { read_run(bad_json); }).find(bad_json + "/eval_results.json"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { read_run(no_f1); }).find("dev has no f1"), std::string::npos);
  EXPECT_NE(test::error_of([&] { read_run(bad_toml); }).find(bad_toml + "/distill.toml"),
            std::string::npos);
  const auto runs = collect_runs({root / "runs"}, false);
  ASSERT_EQ(runs.size(), 4u);
  // Sorted by directory: bad-json, bad-toml, good, no-f1.
  EXPECT_EQ(runs[0].dir, bad_json);
  EXPECT_EQ(runs[2].dir, good);
  for (std::size_t i : {0, 1, 3}) EXPECT_EQ(runs[i].status, RunStatus::unreadable) << runs[i].dir;
  EXPECT_EQ(runs[2].status, RunStatus::complete);
  EXPECT_NE(runs[3].problem.find("dev has no f1"), std::string::npos);
  EXPECT_NE(test::error_of([&] { collect_runs({root / "runs"}, true); }).find("eval_results.json"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { collect_runs({root / "nowhere"}, false); }).find("does not exist"),
            std::string::npos);
}

TEST(ReportRead, TaskFromTheSubmissionFileWhenTheTokensAreGone) {
  TempDir root;
  const std::string dir = write_run(root, "run", FakeRun{});
  remove_tree(root / "tokens");
  EXPECT_EQ(read_run(dir).task, "SST-2");
  remove_tree(dir + "/SST-2.tsv");
  EXPECT_NE(test::error_of([&] { read_run(dir); }).find("cannot tell the task"), std::string::npos);
}

}  // namespace
}  // namespace pkd::report
