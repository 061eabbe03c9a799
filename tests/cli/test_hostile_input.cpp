// Hostile input through the real `pkd` binary (issue #14): flags and config values (sizes,
// thread counts, non-finite numbers), custom task columns and split names, and inspect's example
// index, which once crashed pkd, hung it, or were silently accepted. Every case must now end with
// a clear error, exit code 1 (bad input) or 2 (usage), never a signal, and a message naming the
// key, what was found and what was expected. Model files: test_hostile_models.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli/hostile_input.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

namespace fs = std::filesystem;

// --- flags and config values -------------------------------------------------------------------

TEST_F(HostileInput, TokenizeSizesHaveUpperBounds) {
  const std::string data = *tokens_dir_ / "data";
  expect_failure(tokenize(data, "--max-seq-length 4294967424"), 2,
                 "tokenize.max_seq_length must be in 3..8192 tokens");
  expect_failure(tokenize(data, "--shard-size 1099511627776"), 2,
                 "tokenize.shard_size must be in 1..16777216 examples, got 1099511627776");
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(HostileInput, ThreadCountIsCapped) {
  // Started 100000 OpenMP threads and seemed hung: killed after 120 s if it regresses.
  auto r = run("timeout -s KILL 120 " + pkd_binary() + " eval --model " + model() + " --tokens " +
               dev_tokens() + " --intra-op-threads 100000");
  expect_failure(r, 2, "runtime.intra_op_threads must be in 0..1024");
}

TEST_F(HostileInput, BatchSizesHaveUpperBounds) {
  // Spun through 2^40 micro-batches (SIGTERM is preemption: only KILL stopped it).
  auto r = run("timeout -s KILL 120 " + pkd_binary() + " finetune --init random --train " +
               (*tokens_dir_ / "tokens/train") + " --output-dir " + (dir_ / "run") +
               " --batch-size 1099511627776 --gradient-accumulation-steps 1099511627776");
  expect_failure(r, 2, "finetune.batch_size must be in 1..1048576 examples, got 1099511627776");
}

TEST_F(HostileInput, NonFiniteNumbersAreRefusedByKey) {
  const std::string train = "finetune --init random --train " + (*tokens_dir_ / "tokens/train") +
                            " --output-dir " + (dir_ / "run") + " --max-steps 1 ";
  expect_failure(
      run_pkd(train + "--learning-rate nan"), 2,
      "config key 'optimizer.learning_rate' must be a finite number, found floating nan");
  expect_failure(
      run_pkd(train + "--set optimizer.weight_decay=-inf"), 2,
      "config key 'optimizer.weight_decay' must be a finite number, found floating -inf");
  write_text(dir_ / "c.toml", "[finetune]\nepochs = 2.5\n");
  expect_failure(run_pkd(train + "--config " + (dir_ / "c.toml")), 2,
                 "c.toml:2: [error] config key 'finetune.epochs' must be an integer, found "
                 "floating 2.5");
  expect_failure(
      run_pkd("distill --teacher " + model() + " --online-teacher --train " +
              (*tokens_dir_ / "tokens/train") + " --output-dir " + (dir_ / "d") + " --alpha nan"),
      2, "config key 'distill.loss.alpha' must be a finite number, found floating nan");
  write_text(dir_ / "d.toml", "[distill.loss]\ntemperature = inf\n");
  expect_failure(run_pkd("distill --config " + (dir_ / "d.toml")), 2,
                 "d.toml:2: [error] config key 'distill.loss.temperature' must be a finite number");
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

TEST_F(HostileInput, SweepRefusesANanAxis) {
  auto r = run("cd " + source_dir() + " && " + pkd_binary() +
               " sweep --config configs/glue/sweep.toml --set sweep.work_dir=" + (dir_ / "work") +
               " --set 'sweep.tasks=[\"RTE\"]' --set 'sweep.grid=[\"distill.loss.alpha=0.5,nan\"]'"
               " --dry-run");
  expect_failure(r, 2,
                 "config key 'distill.loss.alpha' must be a finite number, found floating nan");
  EXPECT_EQ(r.output.find("alpha=nan\t--output-dir"), std::string::npos) << r.output;
}

// --- tokenize: custom columns and split names --------------------------------------------------

TEST_F(HostileInput, CustomTaskColumnsAreChecked) {
  write_text(dir_ / "c/train.tsv", "text\tlabel\nnice\t1\n");
  const std::string custom = "tokenize --task custom --data-dir " + (dir_ / "c") + " --vocab " +
                             vocab() + " --out " + (dir_ / "out") +
                             " --set 'tokenize.custom.labels=[\"0\",\"1\"]' ";
  expect_failure(run_pkd(custom + "--text-a 1 --label 1"), 2,
                 "tokenize.custom.text_a and tokenize.custom.label are the same column 1");
  expect_failure(run_pkd(custom + "--text-a label --label label"), 2,
                 "are the same column 'label'");
  // By name and by index: the same column only once the header is read.
  expect_failure(run_pkd(custom + "--text-a label --label 1"), 2,
                 "the label column 1 is also a text column (text_a)");
  // A negative index from a flag was reported as "unknown file:1".
  auto r = run_pkd(custom + "--text-a -1");
  expect_failure(r, 2,
                 "config key 'tokenize.custom.text_a' must be a 0-based column index (0..1048576) "
                 "or a header name, found integer -1");
  EXPECT_EQ(r.output.find("unknown file"), std::string::npos) << r.output;
  write_text(dir_ / "neg.toml", "[tokenize.custom]\ntext_a = -2\n");
  expect_failure(run_pkd(custom + "--config " + (dir_ / "neg.toml")), 2,
                 "neg.toml:2: [error] config key 'tokenize.custom.text_a' must be a 0-based "
                 "column index (0..1048576)");
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(HostileInput, SplitNamesCannotLeaveTheOutputDirectory) {
  // A custom data file "...tsv" is split "..": it wrote OUT/../manifest.json.
  write_text(dir_ / "c/train.tsv", "text\tlabel\nnice\t1\n");
  write_text(dir_ / "c/...tsv", "text\tlabel\nnice\t1\n");
  const std::string custom = "tokenize --task custom --data-dir " + (dir_ / "c") + " --vocab " +
                             vocab() + " --out " + (dir_ / "nest/out") +
                             " --set 'tokenize.custom.labels=[\"0\",\"1\"]' ";
  expect_failure(run_pkd(custom), 2,
                 "c/...tsv': split name '..' is not a plain name: it becomes the output "
                 "directory OUT/<split>/");
  expect_failure(run_pkd(custom + "--splits ..,train"), 2, "tokenize.splits: split name '..'");
  expect_failure(run_pkd(custom + "--set 'tokenize.splits=[\"a/b\"]'"), 2,
                 "tokenize.splits: split name 'a/b' is not a plain name");
  EXPECT_FALSE(fs::exists(dir_ / "nest"));
  // Naming the good splits still works.
  auto ok = run_pkd(custom + "--splits train");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_FALSE(fs::exists(dir_ / "nest/manifest.json"));
}

// --- inspect -----------------------------------------------------------------------------------

TEST_F(HostileInput, InspectExampleMustBeInRange) {
  expect_failure(run_pkd("inspect " + dev_tokens() + " --example -5"), 2,
                 "inspect.example (--example) must be in 0..1: split 'dev' has 2 examples; got -5");
  expect_failure(run_pkd("inspect " + dev_tokens() + " --example 2"), 2, "must be in 0..1");
  auto ok = run_pkd("inspect " + dev_tokens() + " --example 1");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

}  // namespace
}  // namespace pkd::test
