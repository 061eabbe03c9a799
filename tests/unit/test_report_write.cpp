// The whole of pkd report over run directories written by hand: every row of the paper's table,
// results.md, results.csv, the zip and the plots.
#include <gtest/gtest.h>

#include "core/fs.h"
#include "core/strings.h"
#include "report/report.h"
#include "support/test_support.h"
#include "unit/report_runs.h"

namespace pkd::report {
namespace {

using test::TempDir;
using test_runs::dev_accuracy;
using test_runs::FakeRun;
using test_runs::write_run;

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
  EXPECT_NE(md.find("](heatmap-SST-2-BERT6-PKD-Skip.svg)"), std::string::npos) << md;
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

// The default sweep's runs: the teacher, then for students of 6 and 3 layers FT (distill with
// alpha = beta = 0, and pkd finetune of the first k layers), vanilla KD, PKD-Skip and PKD-Last,
// each at two settings. Every row of the paper's Table 1, in its order, each cell its best run.
TEST(ReportWrite, EveryRowOfThePapersTable) {
  TempDir root;
  FakeRun teacher;
  teacher.command = "finetune";
  teacher.layers = 12;
  teacher.eval = dev_accuracy(0.93);
  write_run(root, "work/teacher/SST-2", teacher);
  struct Student {
    const char* name;
    double alpha, beta;
    const char* layer_map;
    double gain;  // accuracy above the student size's base
  };
  const std::vector<Student> students = {{"ft-lr1", 0, 0, "skip", 0.001},
                                         {"kd-a0.5", 0.5, 0, "skip", 0.011},
                                         {"kd-a0.7", 0.7, 0, "skip", 0.013},
                                         {"last-a0.5-b10", 0.5, 10, "last", 0.031},
                                         {"last-a0.7-b100", 0.7, 100, "last", 0.034},
                                         {"skip-a0.5-b10", 0.5, 10, "skip", 0.022},
                                         {"skip-a0.5-b100", 0.5, 100, "skip", 0.021}};
  for (int layers : {3, 6}) {
    const double base = layers == 6 ? 0.8 : 0.7;
    for (const auto& s : students) {
      FakeRun f;
      f.layers = layers;
      f.alpha = s.alpha;
      f.beta = s.beta;
      f.layer_map = s.layer_map;
      f.eval = dev_accuracy(base + s.gain);
      write_run(root, cat("work/students/SST-2/bert", layers, "-", s.name), f);
    }
    FakeRun ft;  // the same row from pkd finetune --init-layers k, and the better of the two
    ft.command = "finetune";
    ft.layers = ft.init_layers = layers;
    ft.eval = dev_accuracy(base + 0.002);
    write_run(root, cat("work/students/SST-2/bert", layers, "-ft-finetune"), ft);
  }
  ReportConfig c;
  c.runs = {root / "work"};
  c.out = root / "report";
  c.format = {"md", "svg"};
  const Report r = write_report(c);
  ASSERT_EQ(r.runs.size(), 17u);
  const std::vector<std::string> rows = {"BERT12 (teacher)", "BERT6-FT",       "BERT6-KD",
                                         "BERT6-PKD-Skip",   "BERT6-PKD-Last", "BERT3-FT",
                                         "BERT3-KD",         "BERT3-PKD-Skip", "BERT3-PKD-Last"};
  const std::vector<std::string> best = {
      "teacher/SST-2",       "bert6-ft-finetune",    "bert6-kd-a0.7",
      "bert6-skip-a0.5-b10", "bert6-last-a0.7-b100", "bert3-ft-finetune",
      "bert3-kd-a0.7",       "bert3-skip-a0.5-b10",  "bert3-last-a0.7-b100"};
  ASSERT_EQ(r.table.rows.size(), rows.size());
  ASSERT_EQ(r.table.columns.size(), 1u);
  const std::string md = read_file(root / "report/results.md");
  std::size_t previous = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(r.table.rows[i].label, rows[i]);
    const std::size_t run = r.table.best[i][0];
    ASSERT_NE(run, kNoRun) << rows[i];
    EXPECT_TRUE(ends_with(r.runs[run].dir, best[i])) << rows[i] << ": " << r.runs[run].dir;
    const auto at = md.find("\n| " + rows[i] + " | ");  // the results table, in this order
    EXPECT_NE(at, std::string::npos) << rows[i] << "\n" << md;
    EXPECT_GT(at, previous) << rows[i];
    previous = at;
  }
  EXPECT_NE(md.find("| BERT6-PKD-Last | 83.4 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| BERT3-KD | 71.3 |"), std::string::npos) << md;

  // Heat maps per PKD row: Skip and Last apart, each with its size's beta = 0 runs (KD; FT at
  // alpha = 0) as the reference column.
  std::vector<std::string> files;
  for (const auto& f : r.figures) files.push_back(f.file);
  EXPECT_EQ(files, (std::vector<std::string>{"curves-SST-2.svg", "heatmap-SST-2-BERT6-PKD-Skip.svg",
                                             "heatmap-SST-2-BERT6-PKD-Last.svg",
                                             "heatmap-SST-2-BERT3-PKD-Skip.svg",
                                             "heatmap-SST-2-BERT3-PKD-Last.svg"}));
  const std::string skip6 = read_file(root / "report/heatmap-SST-2-BERT6-PKD-Skip.svg");
  for (const char* cell : {">80.1<", ">81.1<", ">81.3<", ">82.2<", ">82.1<"})
    EXPECT_NE(skip6.find(cell), std::string::npos) << cell;
  for (const char* other : {">83.1<", ">83.4<", ">72.2<"})  // Last's, BERT3's
    EXPECT_EQ(skip6.find(other), std::string::npos) << other;
}

}  // namespace
}  // namespace pkd::report
