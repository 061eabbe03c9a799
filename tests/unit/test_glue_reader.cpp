#include <gtest/gtest.h>

#include "core/error.h"
#include "glue/custom_task.h"
#include "glue/split_reader.h"
#include "support/test_support.h"

namespace pkd::glue {
namespace {

SplitData read(const std::string& task_name, const std::string& split, const std::string& content,
               BadRowPolicy policy = BadRowPolicy::error) {
  static test::TempDir dir;
  std::string path = dir / (task_name + "-" + split + ".tsv");
  test::write_text(path, content);
  const TaskSpec* task = find_glue_task(task_name);
  return read_split(*task, *task->find_split(split), path, policy);
}

TEST(GlueReader, TaskNamesAndLabelOrder) {
  EXPECT_EQ(find_glue_task("sst2")->name, "SST-2");
  EXPECT_EQ(find_glue_task("sts-b")->name, "STS-B");
  EXPECT_EQ(find_glue_task("MNLI")->labels,
            (std::vector<std::string>{"contradiction", "entailment", "neutral"}));
  EXPECT_EQ(find_glue_task("MNLI")->split_names().size(), 5u);
  EXPECT_EQ(find_glue_task("QQP")->default_bad_row_policy, BadRowPolicy::skip);
  EXPECT_TRUE(find_glue_task("STS-B")->regression);
  EXPECT_EQ(find_glue_task("nope"), nullptr);
  EXPECT_EQ(glue_task_names().size(), 9u);
}

TEST(GlueReader, BomHeaderPairsAndLabels) {
  SplitData d = read("MRPC", "dev",
                     "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                     "1\t1\t2\tHe said .\tHe says .\n0\t3\t4\tA\tB\n");
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.examples[0].text_a, "He said .");
  EXPECT_EQ(*d.examples[0].text_b, "He says .");
  EXPECT_EQ(d.examples[0].label, 1);
  EXPECT_EQ(d.examples[1].label, 0);
  EXPECT_EQ(d.examples[1].row, 1);
  EXPECT_EQ(d.examples[1].line, 3);
}

TEST(GlueReader, HeaderlessColaWithoutFinalNewline) {
  SplitData d = read("CoLA", "dev", "gj04\t1\t\tThe sailors rode .\ngj04\t0\t*\tRode .");
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.examples[1].text_a, "Rode .");
  EXPECT_EQ(d.examples[1].label, 0);
  EXPECT_FALSE(d.examples[1].text_b.has_value());
}

TEST(GlueReader, NoQuoteProcessing) {
  SplitData d =
      read("RTE", "train", "index\tsentence1\tsentence2\tlabel\n0\t\"Lone quote\tB\tentailment\n");
  EXPECT_EQ(d.examples[0].text_a, "\"Lone quote");
}

TEST(GlueReader, TestSplitIsUnlabeled) {
  SplitData d = read("SST-2", "test", "index\tsentence\n0\tgood .\n");
  EXPECT_FALSE(d.labeled);
  EXPECT_EQ(d.examples[0].label, -1);
}

TEST(GlueReader, RegressionLabels) {
  std::string header =
      "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
  SplitData d = read("STS-B", "dev", header + "0\tg\tf\ty\to\ts\ts\tA man .\tA dog .\t3.800\n");
  EXPECT_FLOAT_EQ(d.examples[0].score, 3.8f);
  std::string msg =
      test::error_of([&] { read("STS-B", "dev", header + "0\tg\tf\ty\to\ts\ts\tA\tB\thigh\n"); });
  EXPECT_NE(msg.find("line 2: label \"high\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a finite number"), std::string::npos) << msg;
}

TEST(GlueReader, MalformedRowsNameFileLineAndExpectation) {
  const std::string header = "sentence\tlabel\n";
  std::string msg =
      test::error_of([&] { read("SST-2", "train", header + "good .\t1\nbad row\n"); });
  EXPECT_NE(
      msg.find(
          "SST-2-train.tsv' line 3: expected 2 tab-separated columns (as in the header), found 1"),
      std::string::npos)
      << msg;
  msg = test::error_of([&] { read("SST-2", "train", header + "good .\tpositive\n"); });
  EXPECT_NE(msg.find("line 2: unknown label \"positive\" (column 'label'), expected one of: 0, 1"),
            std::string::npos)
      << msg;
  msg = test::error_of([&] { read("SST-2", "train", header + "  \t1\n"); });
  EXPECT_NE(msg.find("line 2: text_a (column 'sentence') is empty"), std::string::npos) << msg;
  msg = test::error_of([&] { read("SST-2", "train", header + "caf\xC3\t1\n"); });
  EXPECT_NE(msg.find("line 2: invalid UTF-8 at byte 4"), std::string::npos) << msg;
  msg = test::error_of([&] { read("SST-2", "train", "index\tsentence\n0\tgood .\n"); });
  EXPECT_NE(msg.find("header mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a column named 'label'"), std::string::npos) << msg;
  msg = test::error_of([&] { read("SST-2", "train", header); });
  EXPECT_NE(msg.find("no usable data rows"), std::string::npos) << msg;
  msg = test::error_of([&] { read("SST-2", "train", ""); });
  EXPECT_NE(msg.find("is empty"), std::string::npos) << msg;
}

TEST(GlueReader, SkipPolicyDropsRowsButKeepsRowIds) {
  SplitData d =
      read("SST-2", "train", "sentence\tlabel\na .\t1\nbroken\nb .\t0\n", BadRowPolicy::skip);
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.skipped_lines, std::vector<std::int64_t>{3});
  EXPECT_EQ(d.examples[1].row, 2);  // the source row index, so predictions map back
}

// MNLI, QQP and WNLI files are not available offline: these rows follow GLUE's published headers.
TEST(GlueReader, MnliLayoutsUseGoldLabel) {
  const std::string dev_header =
      "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
      "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\t"
      "label5\tgold_label\n";
  SplitData d = read("MNLI", "dev_matched",
                     dev_header +
                         "0\t1\t1e\tfiction\t(x)\t(y)\t(X)\t(Y)\tThe cat sat .\tA cat sat .\t"
                         "neutral\tneutral\tentailment\tneutral\tneutral\tneutral\n");
  EXPECT_EQ(d.examples[0].text_a, "The cat sat .");
  EXPECT_EQ(*d.examples[0].text_b, "A cat sat .");
  EXPECT_EQ(d.examples[0].label, 2);  // neutral: contradiction, entailment, neutral
  const std::string test_header =
      "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
      "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\n";
  SplitData t =
      read("MNLI", "test_mismatched", test_header + "0\t1\t1e\tg\t(x)\t(y)\t(X)\t(Y)\tA\tB\n");
  EXPECT_EQ(t.examples[0].label, -1);
}

TEST(GlueReader, QqpSkipsMalformedRowsByDefault) {
  const TaskSpec* qqp = find_glue_task("QQP");
  SplitData d = read("QQP", "train",
                     "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                     "0\t1\t2\tHow?\tWhy?\t0\n"
                     "1\t3\t4\tcut short\n"
                     "2\t5\t6\tWhat?\tWho?\t1\n",
                     qqp->default_bad_row_policy);
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.skipped_lines, std::vector<std::int64_t>{3});
  EXPECT_EQ(d.examples[1].label, 1);
}

TEST(GlueReader, WnliLabels) {
  SplitData d = read("WNLI", "dev", "index\tsentence1\tsentence2\tlabel\n0\tA .\tB .\t1\n");
  EXPECT_EQ(d.examples[0].label, 1);
}

TEST(GlueReader, MissingFile) {
  const TaskSpec* t = find_glue_task("SST-2");
  std::string msg = test::error_of(
      [&] { read_split(*t, *t->find_split("dev"), "/nonexistent/dev.tsv", BadRowPolicy::error); });
  EXPECT_NE(msg.find("'/nonexistent/dev.tsv' does not exist"), std::string::npos) << msg;
}

TEST(CustomTask, ValidatesItsLayout) {
  CustomTaskConfig c;
  EXPECT_THROW(c.to_task({"train"}), UsageError);  // no labels, not regression
  c.labels = {"neg", "pos"};
  TaskSpec t = c.to_task({"train", "test"});
  EXPECT_TRUE(t.find_split("train")->labeled);
  EXPECT_FALSE(t.find_split("test")->labeled);
  c.header = false;
  c.text_a.name = "sentence";
  c.text_a.index = -1;
  EXPECT_THROW(c.to_task({"train"}), UsageError);  // names without a header
  CustomTaskConfig dup;
  dup.labels = {"a", "a"};
  EXPECT_THROW(dup.to_task({"train"}), UsageError);
}

}  // namespace
}  // namespace pkd::glue
