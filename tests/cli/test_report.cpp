// `pkd report` on real runs made by the real binary: a teacher, the PKD grid, PKD-Last, KD, the
// fine-tuned student, a preempted run and a corrupt one, laid out as a sweep's work_dir with
// relative paths and reported from another working directory.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/fs.h"
#include "core/strings.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

std::string head(const std::string& path, int lines) {
  const std::string text = read_file(path);
  std::size_t cut = 0;
  for (int i = 0; i < lines && cut != std::string::npos; ++i) cut = text.find('\n', cut) + 1;
  return text.substr(0, cut);
}

TEST(ReportCli, TableZipAndPlotsFromRealRuns) {
  TempDir dir;
  const std::string glue = source_dir() + "/data/glue/SST-2/";
  write_text(dir / "data/train.tsv", head(glue + "train.tsv", 121));
  write_text(dir / "data/dev.tsv", head(glue + "dev.tsv", 41));
  write_text(dir / "data/test.tsv", head(glue + "test.tsv", 21));
  // Every job runs in the work directory with relative paths, as sweep jobs do.
  auto in_work = [&](const std::string& args) {
    return run("cd " + dir.path() + " && " + pkd_binary() + " " + args + " --intra-op-threads 1");
  };
  ASSERT_EQ(run_pkd("tokenize --task SST-2 --data-dir " + (dir / "data") + " --vocab " +
                    source_dir() + "/data/vocab/vocab.txt --out " + (dir / "tokens/SST-2"))
                .exit_code,
            0);
  const std::string splits =
      " --train tokens/SST-2/train --dev tokens/SST-2/dev --test tokens/SST-2/test"
      " --epochs 2 --batch-size 16";
  auto r = in_work(
      "finetune --init random --hidden-size 32 --num-hidden-layers 4"
      " --num-attention-heads 2 --intermediate-size 64 --learning-rate 1e-3" +
      splits + " --output-dir work/teacher/SST-2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = in_work(
      "cache-teacher --model work/teacher/SST-2/model --tokens tokens/SST-2/train"
      " --out features/SST-2/train");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string distill =
      "distill --teacher work/teacher/SST-2/model --features "
      "features/SST-2/train --student-layers 2" +
      splits + " --output-dir work/students/SST-2/";
  for (const char* run_args :
       {"pkd-a0.2-b10 --alpha 0.2 --beta 10", "pkd-a0.7-b10 --alpha 0.7 --beta 10",
        "pkd-last-a0.5-b10 --alpha 0.5 --beta 10 --layer-map last", "kd --alpha 0.5 --beta 0",
        "ft --alpha 0 --beta 0", "broken --alpha 0.5 --beta 0"}) {
    r = in_work(distill + run_args);
    ASSERT_EQ(r.exit_code, 0) << run_args << "\n" << r.output;
  }
  r = in_work(distill + "stopped --stop-after-steps 2");
  ASSERT_EQ(r.exit_code, 75) << r.output;
  write_text(dir / "work/students/SST-2/broken/eval_results.json", "{\"dev\": {oops");

  const std::string report = "report --runs " + (dir / "work/teacher") + " --runs " +
                             (dir / "work/students") + " --out " + (dir / "report");
  r = run("cd / && " + pkd_binary() + " " + report);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("broken/eval_results.json is not valid JSON"), std::string::npos)
      << r.output;
  const std::string md = read_file(dir / "report/results.md");
  std::size_t previous = 0;  // the rows in the paper's order
  for (const char* row : {"| BERT4 (teacher) | ", "| BERT2-FT | ", "| BERT2-KD | ",
                          "| BERT2-PKD-Skip | ", "| BERT2-PKD-Last | "}) {
    const auto at = md.find(row);
    EXPECT_NE(at, std::string::npos) << row << "\n" << md;
    EXPECT_GT(at, previous) << row << "\n" << md;
    previous = at == std::string::npos ? previous : at;
  }
  for (const char* line :
       {"stopped` | unfinished | ", "broken` | unreadable | ", "](curves-SST-2.svg)",
        "](heatmap-SST-2-BERT2-PKD-Skip.svg)", "](heatmap-SST-2-BERT2-PKD-Last.svg)"})
    EXPECT_NE(md.find(line), std::string::npos) << line << "\n" << md;
  EXPECT_EQ(split(read_file(dir / "report/results.csv"), '\n').size(), 10u);  // header + 8 + ""

  // The zip holds the best PKD run's SST-2.tsv, byte for byte.
  const auto at = md.find("| SST-2.tsv | BERT2-PKD-");  // -Skip or -Last, the better
  ASSERT_NE(at, std::string::npos) << md;
  const auto start = md.find('`', at) + 1;
  const std::string source = md.substr(start, md.find('`', start) - start) + "/SST-2.tsv";
  r =
      run("/usr/bin/python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
          "assert z.testzip() is None; assert z.namelist() == [\"SST-2.tsv\"], z.namelist(); "
          "assert z.read(\"SST-2.tsv\") == open(sys.argv[2], \"rb\").read()' " +
          (dir / "report/glue_submission.zip") + " " + source);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* svg : {"curves-SST-2.svg", "heatmap-SST-2-BERT2-PKD-Skip.svg",
                          "heatmap-SST-2-BERT2-PKD-Last.svg"}) {
    r = run("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' " +
            (dir / "report/") + svg);
    EXPECT_EQ(r.exit_code, 0) << svg << "\n" << r.output;
  }

  r = run_pkd(report + " --strict");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("eval_results.json is not valid JSON"), std::string::npos) << r.output;
  r = run_pkd(report + " --format md,pdf");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("report.format has \"pdf\""), std::string::npos) << r.output;
  r = run_pkd("report --runs " + (dir / "nowhere") + " --out " + (dir / "report"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("nowhere' does not exist"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pkd::test
