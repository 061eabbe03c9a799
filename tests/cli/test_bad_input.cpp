// Bad input through the real `pkd` binary: each case exits non-zero with a message naming the
// file/line/key and what was expected, and leaves no output that looks complete.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"

namespace pkd::test {
namespace {

class BadInput : public ::testing::Test {
 protected:
  // An SST-2 data directory whose dev.tsv is `dev` (train.tsv is always fine).
  std::string sst2(const std::string& dev) {
    write_text(dir_ / "data/train.tsv", "sentence\tlabel\ngood .\t1\nbad .\t0\n");
    write_text(dir_ / "data/dev.tsv", dev);
    return dir_ / "data";
  }
  std::string vocab() const { return source_dir() + "/data/vocab/vocab.txt"; }
  CommandResult tokenize(const std::string& data_dir, const std::string& extra = "") {
    return run_pkd("tokenize --task SST-2 --data-dir " + data_dir + " --vocab " + vocab() +
                   " --out " + (dir_ / "out") + " " + extra);
  }
  // Fails the test if the output has a manifest (looks complete) for `split`, or any shard.
  void expect_nothing_complete(const std::string& split) {
    EXPECT_FALSE(std::filesystem::exists(dir_ / ("out/" + split + "/manifest.json")));
    if (!std::filesystem::exists(dir_ / ("out/" + split))) return;
    for (const auto& f : std::filesystem::directory_iterator(dir_ / ("out/" + split))) {
      EXPECT_EQ(f.path().extension(), ".toml") << "left behind: " << f.path();
    }
  }
  void expect_failure(const CommandResult& r, const std::string& fragment, int code = 1) {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << "expected '" << fragment << "' in:\n"
                                                          << r.output;
  }
  TempDir dir_;
};

TEST_F(BadInput, MissingDataFileAndDirectory) {
  write_text(dir_ / "data/dev.tsv", "sentence\tlabel\na\t1\n");
  expect_failure(tokenize(dir_ / "data", "--splits train"), "data/train.tsv' does not exist");
  expect_failure(tokenize(dir_ / "nowhere"), "nowhere' does not exist");
  expect_nothing_complete("train");
}

TEST_F(BadInput, WrongColumnCount) {
  expect_failure(tokenize(sst2("sentence\tlabel\nfine .\t1\ntoo\tmany\tcolumns\n")),
                 "dev.tsv' line 3: expected 2 tab-separated columns (as in the header), found 3");
  expect_nothing_complete("dev");
  expect_nothing_complete("train");
}

TEST_F(BadInput, InvalidUtf8) {
  expect_failure(tokenize(sst2("sentence\tlabel\nfine .\t1\nna\xEFve\t1\n")),
                 "dev.tsv' line 3: invalid UTF-8 at byte 3");
  expect_nothing_complete("dev");
}

TEST_F(BadInput, EmptyText) {
  expect_failure(tokenize(sst2("sentence\tlabel\n\t1\n")),
                 "line 2: text_a (column 'sentence') is empty");
}

TEST_F(BadInput, UnknownLabel) {
  expect_failure(tokenize(sst2("sentence\tlabel\nok .\t2\n")),
                 "line 2: unknown label \"2\" (column 'label'), expected one of: 0, 1");
}

TEST_F(BadInput, HeaderMismatch) {
  expect_failure(tokenize(sst2("index\ttext\n0\thello\n")), "expected a column named 'sentence'");
}

TEST_F(BadInput, SkipPolicyIsExplicitAndRecorded) {
  auto r = tokenize(sst2("sentence\tlabel\nok .\t1\nbroken\nfine .\t0\n"), "--on-bad-row skip");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped 1 malformed rows (lines 3)"), std::string::npos) << r.output;
  auto inspect = run_pkd("inspect " + (dir_ / "out/dev"));
  EXPECT_NE(inspect.output.find("2 examples"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("1 malformed rows skipped"), std::string::npos) << inspect.output;
}

TEST_F(BadInput, UnreadableVocab) {
  std::string data = sst2("sentence\tlabel\nok .\t1\n");
  auto r = run_pkd("tokenize --task SST-2 --data-dir " + data + " --vocab " +
                   (dir_ / "missing.txt") + " --out " + (dir_ / "out"));
  expect_failure(r, "vocabulary file '" + (dir_ / "missing.txt") + "' does not exist");
  r = run_pkd("tokenize --task SST-2 --data-dir " + data + " --vocab " + data + " --out " +
              (dir_ / "out"));
  expect_failure(r, "is a directory, expected a file");
  write_text(dir_ / "v.txt", "hello\nworld\n");
  r = run_pkd("tokenize --task SST-2 --data-dir " + data + " --vocab " + (dir_ / "v.txt") +
              " --out " + (dir_ / "out"));
  expect_failure(r, "has no [PAD] token");
  expect_nothing_complete("dev");
}

TEST_F(BadInput, ConfigTyposAreUsageErrors) {
  std::string data = sst2("sentence\tlabel\nok .\t1\n");
  write_text(dir_ / "c.toml", "[tokenize]\ntask = \"SST-2\"\nmax_seq_len = 64\n");
  expect_failure(run_pkd("tokenize --config " + (dir_ / "c.toml")), "did you mean 'max_seq_length'",
                 2);
  expect_failure(tokenize(data, "--max-seq-lenght 64"),
                 "unknown option --max-seq-lenght (did you mean 'max-seq-length'?)", 2);
  expect_failure(run_pkd("tokenize --task SST2x --data-dir " + data + " --vocab " + vocab() +
                         " --out " + (dir_ / "o")),
                 "unknown task 'SST2x' (did you mean 'SST-2'?)", 2);
  expect_failure(tokenize(data, "--max-seq-length abc"),
                 "'tokenize.max_seq_length' takes an integer", 2);
  expect_failure(run_pkd("tokenize --task SST-2"), "tokenize.data_dir is required", 2);
  expect_failure(run_pkd("tokenise"), "unknown command 'tokenise' (did you mean 'tokenize'?)", 2);
  write_text(dir_ / "s.toml", "[tokenize\n");
  expect_failure(run_pkd("tokenize --config " + (dir_ / "s.toml")), "is not valid TOML", 2);
}

TEST_F(BadInput, InspectOfSomethingElse) {
  write_text(dir_ / "x.h5", "not hdf5");
  expect_failure(run_pkd("inspect " + (dir_ / "x.h5")), "is not a readable HDF5 file");
  expect_failure(run_pkd("inspect " + dir_.path()), "holds no pkd token output");
}

}  // namespace
}  // namespace pkd::test
