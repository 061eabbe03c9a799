// pkd report's logic on runs in memory: classification and row names, the cells of every GLUE
// task, the columns' order, best-run selection, row order and the submission picks.
#include <gtest/gtest.h>

#include <cmath>

#include "report/cells.h"
#include "report/report_config.h"
#include "report/table.h"
#include "support/test_support.h"

namespace pkd::report {
namespace {

const double kNaN = std::nan("");

report::Run make_run(const std::string& dir, const std::string& task, RunKind kind, int layers,
                     std::map<std::string, double> dev, const std::string& split = "dev") {
  report::Run r;
  r.dir = dir;
  r.command = kind == RunKind::teacher ? "finetune" : "distill";
  r.status = RunStatus::complete;
  r.task = task;
  r.regression = task == "STS-B";
  r.kind = kind;
  r.layers = layers;
  r.hp.layer_map = kind == RunKind::pkd ? "skip" : "";
  r.dev = "tokens/" + task + "/" + split;
  r.eval[split] = std::move(dev);
  return r;
}

TEST(ReportClassify, KindsFromCommandAlphaAndBeta) {
  EXPECT_EQ(classify("finetune", 0, kNaN, kNaN), RunKind::teacher);
  EXPECT_EQ(classify("finetune", 6, kNaN, kNaN), RunKind::fine_tuned);
  EXPECT_EQ(classify("distill", 0, 0.0, 0.0), RunKind::fine_tuned);
  EXPECT_EQ(classify("distill", 0, 0.5, 0.0), RunKind::kd);
  EXPECT_EQ(classify("distill", 0, 0.5, 100.0), RunKind::pkd);
  EXPECT_EQ(classify("distill", 0, 0.0, 10.0), RunKind::pkd);  // patient loss only
}

TEST(ReportClassify, RowLabels) {
  EXPECT_EQ(row_label(RunKind::teacher, 12, ""), "BERT12 (teacher)");
  EXPECT_EQ(row_label(RunKind::fine_tuned, 6, ""), "BERT6-FT");
  EXPECT_EQ(row_label(RunKind::kd, 6, ""), "BERT6-KD");
  EXPECT_EQ(row_label(RunKind::pkd, 6, "skip"), "BERT6-PKD-Skip");
  EXPECT_EQ(row_label(RunKind::pkd, 3, " LAST"), "BERT3-PKD-Last");
  EXPECT_EQ(row_label(RunKind::pkd, 3, "4, 8"), "BERT3-PKD-[4,8]");
  EXPECT_EQ(row_label(RunKind::fine_tuned, -1, ""), "BERT?-FT");
}

// Distillation beyond [CLS]: the width a run set and its token-level terms name its row, so such
// runs never merge into the paper's rows.
TEST(ReportClassify, TokenLevelObjectivesNameTheirRows) {
  report::Run r;
  r.command = "distill";
  r.layers = 4;
  r.hp.alpha = 0.5;
  r.hp.beta = 100;
  r.hp.layer_map = "skip";
  r.kind = classify("distill", 0, r.hp.alpha, r.hp.beta);
  EXPECT_EQ(r.row(), "BERT4-PKD-Skip");
  r.hp.student_hidden_size = 312;
  EXPECT_EQ(r.row(), "BERT4x312-PKD-Skip");
  r.hp.hidden_weight = 1;
  r.hp.embedding_weight = 1;
  r.hp.attention_weight = 1;
  r.hp.attention_loss = "kl";
  EXPECT_EQ(r.row(), "BERT4x312-PKD-Skip+HID+EMB+ATT-KL");
  r.hp.beta = 0;
  r.kind = classify("distill", 0, r.hp.alpha, r.hp.beta, true);
  EXPECT_EQ(r.kind, RunKind::kd);
  EXPECT_EQ(r.row(), "BERT4x312-KD+HID+EMB+ATT-KL");
  r.hp.alpha = 0;  // token-level terms alone: no KD in the name
  r.hp.attention_loss = "mse";
  r.kind = classify("distill", 0, r.hp.alpha, r.hp.beta, true);
  EXPECT_EQ(r.kind, RunKind::kd);
  EXPECT_EQ(r.row(), "BERT4x312-HID+EMB+ATT");
  EXPECT_EQ(classify("distill", 0, 0, 0, false), RunKind::fine_tuned);
}

TEST(ReportCells, OfficialDisplayPerTask) {
  EXPECT_EQ(format_cell("MRPC", false, {{"f1", 0.8889}, {"accuracy", 0.8480}}), "88.9/84.8");
  EXPECT_EQ(format_cell("QQP", false, {{"f1", 0.7012}, {"accuracy", 0.8861}}), "70.1/88.6");
  EXPECT_EQ(format_cell("STS-B", true, {{"pearson", 0.8812}, {"spearmanr", 0.8765}}), "88.1/87.7");
  EXPECT_EQ(format_cell("CoLA", false, {{"matthews_correlation", 0.4321}, {"accuracy", 0.8}}),
            "43.2");
  EXPECT_EQ(format_cell("CoLA", false, {{"matthews_correlation", -0.0125}}), "-1.3");
  EXPECT_EQ(format_cell("SST-2", false, {{"accuracy", 0.84849}}), "84.8");
  EXPECT_EQ(format_cell("SST-2", false, {{"accuracy", 0.92545}}), "92.5");
  EXPECT_EQ(format_cell("MNLI", false, {{"accuracy", 0.8397}}), "84.0");
  EXPECT_EQ(format_cell("RTE", false, {{"accuracy", kNaN}}), "NaN");
  EXPECT_EQ(format_cell("MRPC", false, {{"accuracy", 0.8}}), "?/80.0");
  EXPECT_EQ(display_description("STS-B", true), "Pearson/Spearman");
}

TEST(ReportCells, ColumnsInGlueOrderMnliTwice) {
  std::vector<report::Run> runs = {
      make_run("a", "RTE", RunKind::pkd, 6, {{"accuracy", 0.6}}),
      make_run("b", "MNLI", RunKind::pkd, 6, {{"accuracy", 0.8}}, "dev_matched"),
      make_run("c", "reviews", RunKind::pkd, 6, {{"accuracy", 0.8}}),
      make_run("d", "CoLA", RunKind::pkd, 6, {{"matthews_correlation", 0.3}}),
      make_run("e", "SST-2", RunKind::pkd, 6, {{"accuracy", 0.9}}),
      make_run("f", "QNLI", RunKind::pkd, 6, {{"accuracy", 0.9}})};
  runs[5].status = RunStatus::unfinished;  // not a column: no complete run
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& c : table_columns(runs)) out.push_back(c.name);
    return out;
  };
  // MNLI-mm only once a run has dev_mismatched metrics (pkd eval into its eval_results.json).
  EXPECT_EQ(names(), (std::vector<std::string>{"CoLA", "SST-2", "MNLI-m", "RTE", "reviews"}));
  runs[1].eval["dev_mismatched"] = {{"accuracy", 0.81}};
  EXPECT_EQ(names(),
            (std::vector<std::string>{"CoLA", "SST-2", "MNLI-m", "MNLI-mm", "RTE", "reviews"}));
  EXPECT_EQ(columns_of_task("MNLI")[1].submission, "MNLI-mm.tsv");
  EXPECT_EQ(columns_of_task("reviews")[0].submission, "");
  EXPECT_EQ(task_of_submission("MNLI-mm.tsv"), "MNLI");
  EXPECT_EQ(task_of_submission("STS-B.tsv"), "STS-B");
  EXPECT_EQ(task_of_submission("AX.tsv"), "");
}

TEST(ReportBest, PrimaryMetricTiesNaNAndUnfinished) {
  std::vector<report::Run> runs = {
      make_run("r0", "MRPC", RunKind::pkd, 6, {{"f1", 0.85}, {"accuracy", 0.80}}),
      make_run("r1", "MRPC", RunKind::pkd, 6, {{"f1", 0.88}, {"accuracy", 0.78}}),
      make_run("r2", "MRPC", RunKind::pkd, 6, {{"f1", 0.86}, {"accuracy", 0.90}}),
      make_run("r3", "MRPC", RunKind::pkd, 6, {{"f1", 0.88}, {"accuracy", 0.99}}),
      make_run("r4", "MRPC", RunKind::pkd, 6, {{"f1", 0.95}, {"accuracy", 0.95}}),
      make_run("r5", "MRPC", RunKind::pkd, 6, {{"f1", kNaN}, {"accuracy", 0.95}})};
  runs[4].status = RunStatus::unfinished;
  const Column mrpc = columns_of_task("MRPC")[0];
  auto all = [](const report::Run&) { return true; };
  // F1 ranks MRPC (not accuracy); the tie at 0.88 goes to the first; unfinished runs never win.
  EXPECT_EQ(best_run(runs, mrpc, all), 1u);
  std::vector<report::Run> nan_first = {runs[5], runs[0]};
  EXPECT_EQ(best_run(nan_first, mrpc, all), 1u);
  EXPECT_EQ(best_run(std::vector<report::Run>{runs[5]}, mrpc, all), 0u);  // only NaN: still shown
  EXPECT_EQ(best_run(runs, columns_of_task("RTE")[0], all), kNoRun);
}

TEST(ReportBest, MnliColumnsRankTheirOwnSplit) {
  report::Run a = make_run("a", "MNLI", RunKind::pkd, 6, {{"accuracy", 0.80}}, "dev_matched");
  a.eval["dev_mismatched"] = {{"accuracy", 0.83}};
  report::Run b = make_run("b", "MNLI", RunKind::pkd, 6, {{"accuracy", 0.82}}, "dev_matched");
  b.eval["dev_mismatched"] = {{"accuracy", 0.81}};
  std::vector<report::Run> runs = {a, b};
  const auto columns = columns_of_task("MNLI");
  auto all = [](const report::Run&) { return true; };
  EXPECT_EQ(best_run(runs, columns[0], all), 1u);
  EXPECT_EQ(best_run(runs, columns[1], all), 0u);
  EXPECT_EQ(format_cell("MNLI", false, *column_metrics(runs[0], columns[1])), "83.0");
}

TEST(ReportTable, RowsInThePapersOrderWithBestCells) {
  auto acc = [](double v) { return std::map<std::string, double>{{"accuracy", v}}; };
  std::vector<report::Run> runs = {make_run("s3pkd", "RTE", RunKind::pkd, 3, acc(0.60)),
                                   make_run("s6kd", "RTE", RunKind::kd, 6, acc(0.62)),
                                   make_run("s6last", "RTE", RunKind::pkd, 6, acc(0.64)),
                                   make_run("s6pkd-a", "RTE", RunKind::pkd, 6, acc(0.65)),
                                   make_run("s6pkd-b", "RTE", RunKind::pkd, 6, acc(0.66)),
                                   make_run("s6ft", "RTE", RunKind::fine_tuned, 6, acc(0.61)),
                                   make_run("t12", "RTE", RunKind::teacher, 12, acc(0.67)),
                                   make_run("t24", "RTE", RunKind::teacher, 24, acc(0.70)),
                                   make_run("s6map", "RTE", RunKind::pkd, 6, acc(0.63))};
  runs[2].hp.layer_map = "last";
  runs[8].hp.layer_map = "1,3,5,7,9";
  const ResultTable t = build_table(runs);
  std::vector<std::string> labels;
  for (const auto& r : t.rows) labels.push_back(r.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"BERT24 (teacher)", "BERT12 (teacher)", "BERT6-FT",
                                              "BERT6-KD", "BERT6-PKD-Skip", "BERT6-PKD-Last",
                                              "BERT6-PKD-[1,3,5,7,9]", "BERT3-PKD-Skip"}));
  ASSERT_EQ(t.columns.size(), 1u);
  EXPECT_EQ(runs[t.best[4][0]].dir, "s6pkd-b");
  EXPECT_EQ(runs[t.best[7][0]].dir, "s3pkd");
}

TEST(ReportSubmission, FirstSelectorWithAFileThenBestByDev) {
  auto acc = [](double v) { return std::map<std::string, double>{{"accuracy", v}}; };
  std::vector<report::Run> runs = {
      make_run("pkd-best", "RTE", RunKind::pkd, 6, acc(0.70)),
      make_run("pkd-ok", "RTE", RunKind::pkd, 6, acc(0.65)),
      make_run("pkd-3", "RTE", RunKind::pkd, 3, acc(0.60)),
      make_run("kd", "SST-2", RunKind::kd, 6, acc(0.90)),
      make_run("pkd-sst", "SST-2", RunKind::pkd, 6, acc(0.91)),
      make_run("teacher", "CoLA", RunKind::teacher, 12, {{"matthews_correlation", 0.5}})};
  for (auto i : {1, 2}) runs[static_cast<std::size_t>(i)].submissions = {"RTE.tsv"};
  runs[3].submissions = {"SST-2.tsv"};  // the PKD run of SST-2 has no test predictions
  runs[5].submissions = {"CoLA.tsv"};
  const auto columns = table_columns(runs);
  auto picks = pick_submissions(runs, columns, {"pkd", "kd", "ft"});
  ASSERT_EQ(picks.size(), 3u);      // CoLA, SST-2, RTE
  EXPECT_EQ(picks[0].run, kNoRun);  // only a teacher has CoLA.tsv
  EXPECT_EQ(runs[picks[1].run].dir, "kd");
  EXPECT_EQ(picks[1].selector, "kd");
  EXPECT_EQ(runs[picks[2].run].dir, "pkd-ok");  // the best PKD run with RTE.tsv
  picks = pick_submissions(runs, columns, {"BERT3-PKD-Skip", "teacher"});
  EXPECT_EQ(runs[picks[0].run].dir, "teacher");
  EXPECT_EQ(picks[1].run, kNoRun);
  EXPECT_EQ(runs[picks[2].run].dir, "pkd-3");
}

TEST(ReportConfigTest, ValidationNamesTheKey) {
  ReportConfig c;
  EXPECT_NE(test::error_of<UsageError>([&] { c.validate(); }).find("report.runs is required"),
            std::string::npos);
  c.runs = {"runs"};
  c.out = "report";
  c.validate();
  c.format = {"md", "pdf"};
  EXPECT_NE(test::error_of<UsageError>([&] { c.validate(); }).find("report.format has \"pdf\""),
            std::string::npos);
  c.format = {"md"};
  c.submission = {"pkdd"};
  EXPECT_NE(test::error_of<UsageError>([&] { c.validate(); }).find("did you mean 'pkd'"),
            std::string::npos);
  c.submission = {"BERT6-PKD-Last", "kd"};
  c.validate();
}

}  // namespace
}  // namespace pkd::report
