// pkd report over run directories written by hand: what it reads from each file, how unfinished
// and unreadable runs are told apart, and the whole report (results.md, results.csv, the zip).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.h"
#include "core/strings.h"
#include "report/report.h"
#include "report/run_reader.h"
#include "support/test_support.h"

namespace pkd::report {
namespace {

using test::TempDir;
using test::write_text;

struct FakeRun {
  std::string command = "distill";
  std::string task = "SST-2";
  double alpha = 0.5, beta = 100, learning_rate = 2e-5;
  std::string layer_map = "skip";
  int layers = 6, init_layers = 0, epochs = 3, epochs_done = 3;
  std::string eval = R"({"dev": {"accuracy": 0.9}})";
  bool test_split = true, submission = true, model = true;
};

// ROOT/tokens/TASK/train/manifest.json and the run directory ROOT/NAME as pkd writes them; the
// config's paths are relative to ROOT, as in a sweep's work_dir.
std::string write_run(const TempDir& root, const std::string& name, const FakeRun& f) {
  const std::string dir = root / name, t = f.command;
  write_text(root / ("tokens/" + f.task + "/train/manifest.json"),
             cat(R"({"format": "pkd.token_manifest", "task": ")", f.task, R"(", "regression": )",
                 f.task == "STS-B" ? "true" : "false", "}"));
  std::string toml =
      cat("[", t, "]\ntrain = \"tokens/", f.task, "/train\"\ndev = \"tokens/", f.task,
          "/dev\"\ntest = \"", f.test_split ? "tokens/" + f.task + "/test" : "",
          "\"\nepochs = ", f.epochs, "\nbatch_size = 32\nmax_steps = -1\nseed = 42\n");
  if (t == "distill")
    toml += cat("teacher = \"teacher/model\"\nstudent_layers = ", f.layers,
                "\n[distill.loss]\nalpha = ", f.alpha, "\nbeta = ", f.beta,
                "\ntemperature = 10.0\nlayer_map = \"", f.layer_map, "\"\n");
  else
    toml += cat("init = \"random\"\ninit_layers = ", f.init_layers,
                "\n[finetune.random_init]\nnum_hidden_layers = ", f.layers, "\n");
  write_text(dir + "/" + t + ".toml",
             toml + cat("[optimizer]\nlearning_rate = ", f.learning_rate, "\n"));
  if (!f.eval.empty()) write_text(dir + "/eval_results.json", f.eval);
  std::string history;
  for (int e = 1; e <= f.epochs_done; ++e)
    history += cat(R"({"epoch": )", e, R"(, "step": )", 10 * e, R"(, "train_loss": )", 1.0 / e,
                   R"(, "dev": {"accuracy": )", 0.5 + 0.1 * e, "}}\n");
  write_text(dir + "/metrics.jsonl", history);
  if (f.model)
    write_text(dir + "/model/config.json", cat(R"({"num_hidden_layers": )", f.layers, "}"));
  if (f.submission) write_text(dir + "/" + f.task + ".tsv", "index\tprediction\n0\t1\n1\t0\n");
  return dir;
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
  std::filesystem::remove_all(root / "tokens");
  EXPECT_EQ(read_run(dir).task, "SST-2");
  std::filesystem::remove(dir + "/SST-2.tsv");
  EXPECT_NE(test::error_of([&] { read_run(dir); }).find("cannot tell the task"), std::string::npos);
}

TEST(ReportWrite, MarkdownCsvAndZip) {
  TempDir root;
  FakeRun f;
  f.command = "finetune";
  f.layers = 12;
  f.eval = R"({"dev": {"f1": 0.9, "accuracy": 0.86, "combined_score": 0.88}})";
  f.task = "MRPC";
  write_run(root, "work/teacher/MRPC", f);
  f = FakeRun{};
  for (double beta : {10.0, 100.0}) {
    f.beta = beta;
    f.eval = cat(R"({"dev": {"accuracy": )", 0.8 + beta / 1000, "}}");
    write_run(root, cat("work/students/SST-2/pkd-b", beta), f);
  }
  f.epochs_done = 1;
  write_run(root, "work/students/SST-2/stopped", f);
  ReportConfig c;
  c.runs = {root / "work/teacher", root / "work/students"};
  c.out = root / "report";
  const Report r = write_report(c);
  EXPECT_EQ(r.runs.size(), 4u);
  const std::string md = read_file(root / "report/results.md");
  EXPECT_NE(md.find("| Model | SST-2 | MRPC |"), std::string::npos) << md;
  EXPECT_NE(md.find("| BERT12 (teacher) | – | 90.0/86.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| BERT6-PKD-Skip | 90.0 | – |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2e-05 | 10 | 0.5 | 100 | skip | 3 | 32 |"), std::string::npos) << md;
  EXPECT_NE(md.find("stopped` | unfinished | metrics.jsonl ends at epoch 1 of 3"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("No submission file (no complete run of pkd, kd, ft with one): MRPC.tsv"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("](heatmap-SST-2-BERT6.svg)"), std::string::npos) << md;
  const auto csv = split(read_file(root / "report/results.csv"), '\n');
  ASSERT_EQ(csv.size(), 6u);  // header, 4 runs, final newline
  EXPECT_EQ(csv[0].substr(0, 32), "run,status,problem,command,task,");
  EXPECT_NE(csv[0].find(",dev.accuracy,dev.combined_score,dev.f1,submission_files"),
            std::string::npos);
  const std::string zip = root / "report/glue_submission.zip";
  auto listing = test::run(
      "/usr/bin/python3 -c \"import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); "
      "assert z.testzip() is None; print(z.namelist(), "
      "z.read('SST-2.tsv').decode().count('\\n'))\" " +
      zip);
  EXPECT_EQ(listing.exit_code, 0) << listing.output;
  EXPECT_EQ(listing.output, "['SST-2.tsv'] 3\n");
}

}  // namespace
}  // namespace pkd::report
