// `pkd finetune` through the real binary: a small model trained from scratch on real SST-2 data
// learns (dev accuracy well above the 50.9% majority class), and its outputs agree with each
// other and with `pkd eval`.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/fs.h"
#include "core/strings.h"
#include "model/hf_weights.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

TEST(Finetune, FromScratchTeacherLearnsSst2) {
  TempDir dir;
  std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
  std::size_t cut = 0;
  for (int lines = 0; lines < 4001; ++lines) cut = train.find('\n', cut) + 1;  // header + 4000 rows
  write_text(dir / "data/train.tsv", train.substr(0, cut));
  std::filesystem::copy_file(source_dir() + "/data/glue/SST-2/dev.tsv", dir / "data/dev.tsv");
  auto r = run_pkd("tokenize --task SST-2 --data-dir " + (dir / "data") + " --vocab " +
                   source_dir() + "/data/vocab/vocab.txt --out " + (dir / "tokens"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_pkd("finetune --init random --train " + (dir / "tokens/train") + " --dev " +
              (dir / "tokens/dev") + " --output-dir " + (dir / "out") +
              " --epochs 2 --learning-rate 1e-3 --hidden-size 64" +
              " --intermediate-size 256 --intra-op-threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto results = nlohmann::json::parse(read_file(dir / "out/eval_results.json"));
  const double accuracy = results.at("dev").at("accuracy");
  EXPECT_GT(accuracy, 0.65) << r.output;  // majority class: 0.509
  // metrics.jsonl: one line per epoch, with the fields the issue asks for.
  auto lines = split(read_file(dir / "out/metrics.jsonl"), '\n');
  ASSERT_EQ(lines.size(), 3u);  // 2 epochs + final newline
  for (int e = 0; e < 2; ++e) {
    auto j = nlohmann::json::parse(lines[static_cast<std::size_t>(e)]);
    EXPECT_EQ(j.at("epoch"), e + 1);
    for (const char* key : {"step", "train_loss", "learning_rate", "examples_per_s", "dev"})
      EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(file_exists(dir / "out/finetune.toml"));
  // The exported model is the best epoch's: `pkd eval` reproduces its metric exactly.
  r = run_pkd("eval --model " + (dir / "out/model") + " --tokens " + (dir / "tokens/dev") +
              " --out " + (dir / "eval.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_DOUBLE_EQ(
      nlohmann::json::parse(read_file(dir / "eval.json")).at("dev").at("accuracy").get<double>(),
      accuracy);
}

// eval_every: a dev evaluation every N steps besides the epoch ends, each a "step" line of
// metrics.jsonl and a candidate for the exported model; the seed's constant schedule with an
// absolute warmup holds the peak rate after the warmup steps.
TEST(Finetune, EvalEveryAndConstantSchedule) {
  TempDir dir;
  std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
  std::size_t cut = 0;
  for (int lines = 0; lines < 241; ++lines) cut = train.find('\n', cut) + 1;  // 240 rows
  write_text(dir / "data/train.tsv", train.substr(0, cut));
  std::string dev = read_file(source_dir() + "/data/glue/SST-2/dev.tsv");
  cut = 0;
  for (int lines = 0; lines < 101; ++lines) cut = dev.find('\n', cut) + 1;
  write_text(dir / "data/dev.tsv", dev.substr(0, cut));
  ASSERT_EQ(run_pkd("tokenize --task SST-2 --data-dir " + (dir / "data") + " --vocab " +
                    source_dir() + "/data/vocab/vocab.txt --out " + (dir / "tokens"))
                .exit_code,
            0);
  const std::string base = "finetune --init random --train " + (dir / "tokens/train") +
                           " --hidden-size 32 --intermediate-size 64 --batch-size 20 --epochs 2"
                           " --learning-rate 1e-3 --intra-op-threads 1 --log-level warn";
  auto r = run_pkd(base + " --eval-every 4 --output-dir " + (dir / "no-dev"));
  EXPECT_EQ(r.exit_code, 2);  // nothing to evaluate
  EXPECT_NE(r.output.find("needs a dev split"), std::string::npos) << r.output;
  r = run_pkd(base + " --dev " + (dir / "tokens/dev") +
              " --eval-every 4 --schedule constant --warmup-steps 3 --output-dir " + (dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // 12 steps per epoch, 24 in all: step lines at 4, 8, 16, 20; epoch lines at 12 and 24.
  std::vector<std::pair<std::string, std::int64_t>> seen;
  double best = -1;
  for (const auto& line : split(read_file(dir / "out/metrics.jsonl"), '\n')) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    seen.emplace_back(j.at("kind").get<std::string>(), j.at("step").get<std::int64_t>());
    best = std::max(best, j.at("dev").at("accuracy").get<double>());
    EXPECT_DOUBLE_EQ(j.at("learning_rate").get<double>(), 1e-3) << line;  // constant after 3
    EXPECT_TRUE(j.contains("train_loss")) << line;
  }
  const std::vector<std::pair<std::string, std::int64_t>> expected = {
      {"step", 4}, {"step", 8}, {"epoch", 12}, {"step", 16}, {"step", 20}, {"epoch", 24}};
  EXPECT_EQ(seen, expected);
  // The exported model is the best of all six evaluations.
  const double exported = nlohmann::json::parse(read_file(dir / "out/eval_results.json"))
                              .at("dev")
                              .at("accuracy")
                              .get<double>();
  EXPECT_DOUBLE_EQ(exported, best);
}

// runtime.precision applies to the training forward (it used to reach only the dev pass): a
// bfloat16 run's training losses differ from float32's and stay close; float16 on the CPU is
// refused with a clear message.
TEST(Finetune, PrecisionAppliesToTrainingSteps) {
  TempDir dir;
  const std::string train = tokenize_sst2_head(dir.path(), 320);
  auto losses = [&](const std::string& precision) {
    auto r = run_pkd("finetune --init random --train " + train + " --output-dir " +
                     (dir / precision) + " --epochs 1 --log-every 1" +
                     " --learning-rate 1e-3 --hidden-size 64 --intermediate-size 256" +
                     " --intra-op-threads 1 --precision " + precision);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<double> l;
    for (const auto& line : split(r.output, '\n')) {
      const auto at = line.find(" loss ");
      if (line.find(" step ") != std::string::npos && at != std::string::npos)
        l.push_back(std::stod(line.substr(at + 6)));
    }
    return l;
  };
  const auto f32 = losses("float32"), bf16 = losses("bfloat16");
  ASSERT_EQ(f32.size(), 10u);
  ASSERT_EQ(bf16.size(), 10u);
  EXPECT_NE(f32[0], bf16[0]) << "the bfloat16 forward computed float32 losses";
  EXPECT_NEAR(f32[0], bf16[0], 0.05 * f32[0]);  // the same model, rounded
  auto r = run_pkd("finetune --init random --train " + train + " --output-dir " + (dir / "f16") +
                   " --precision float16");  // on the CPU, GPU or not
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("float16\" needs a GPU"), std::string::npos) << r.output;
}

TEST(Finetune, BadConfigurations) {
  TempDir dir;
  auto r = run_pkd("finetune --init random --output-dir " + (dir / "o"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("finetune.train is required"), std::string::npos) << r.output;
  r = run_pkd("finetune --init random --train x --output-dir o --learning-rat 1e-3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("did you mean 'learning-rate'"), std::string::npos) << r.output;
  r = run_pkd("finetune --init random --train x --output-dir o --set runtime.cuda_graphs=true");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("runtime.cuda_graphs = true needs runtime.device = \"cuda\""),
            std::string::npos)
      << r.output;
  ASSERT_EQ(run_pkd("tokenize --task SST-2 --data-dir " + source_dir() +
                    "/data/glue/SST-2 --splits test --vocab " + source_dir() +
                    "/data/vocab/vocab.txt --out " + (dir / "t"))
                .exit_code,
            0);
  r = run_pkd("finetune --init random --train " + (dir / "t/test") + " --output-dir " +
              (dir / "o"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("is unlabeled (a test split?)"), std::string::npos) << r.output;
}

// Gradient accumulation splits the global batch without changing the result (float tolerance);
// streaming windows over several shards train the same way as the whole split in memory; and
// a checkpointed output directory is never overwritten or resumed with other settings.
TEST(Finetune, AccumulationWindowsAndCheckpointGuards) {
  TempDir dir;
  std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
  std::size_t cut = 0;
  for (int lines = 0; lines < 201; ++lines) cut = train.find('\n', cut) + 1;
  write_text(dir / "data/train.tsv", train.substr(0, cut));
  ASSERT_EQ(
      run_pkd("tokenize --task SST-2 --data-dir " + (dir / "data") + " --vocab " + source_dir() +
              "/data/vocab/vocab.txt --shard-size 50 --out " + (dir / "tokens"))
          .exit_code,
      0);
  const std::string base = "finetune --init random --train " + (dir / "tokens/train") +
                           " --hidden-size 32 --intermediate-size 64 --hidden-dropout-prob 0"
                           " --attention-probs-dropout-prob 0 --batch-size 20 --max-steps 6"
                           " --learning-rate 1e-3 --intra-op-threads 1 --log-level warn";
  for (const char* variant : {"plain", "accumulate", "windows"}) {
    std::string extra = std::string(variant) == "accumulate" ? " --gradient-accumulation-steps 4"
                        : std::string(variant) == "windows"  ? " --window-examples 0"
                                                             : " --window-examples 1000";
    auto r = run_pkd(base + extra + " --output-dir " + (dir / variant));
    ASSERT_EQ(r.exit_code, 0) << variant << r.output;
  }
  auto params = [&](const char* variant) {
    return read_file(dir / (std::string(variant) + "/checkpoints/step-00000006/model.safetensors"));
  };
  // Same order (one window covers the split either way), same sums: bitwise here.
  EXPECT_EQ(params("plain"), params("windows"));
  // Accumulation sums the 4 micro-batches' gradients in another order: float tolerance.
  auto plain = model::read_safetensors(dir / "plain/checkpoints/step-00000006/model.safetensors");
  auto accumulated =
      model::read_safetensors(dir / "accumulate/checkpoints/step-00000006/model.safetensors");
  double worst = 0;
  for (const auto& [name, t] : plain)
    worst = std::max(worst, (t - accumulated.at(name)).abs().max().item<double>());
  EXPECT_LT(worst, 1e-5);
  EXPECT_NE(params("plain"), params("accumulate"));  // really another summation order

  // Streaming with windows of 2 shards (100 examples) of the 4: trains, and holds fewer shards.
  auto r = run_pkd(base + " --window-examples 100 --output-dir " + (dir / "stream"));
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // An existing checkpoint is neither overwritten nor resumed with other settings.
  r = run_pkd(base + " --output-dir " + (dir / "plain"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("pass --resume to continue it"), std::string::npos) << r.output;
  r = run_pkd(base + " --learning-rate 5e-4 --resume --output-dir " + (dir / "plain"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("written with other settings"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("optimizer.learning_rate: checkpoint 0.001"), std::string::npos)
      << r.output;
  // A checkpoint is its settings, not its text: an older build's doc comments, and keys it did
  // not have yet (here eval_every and the schedule, at their defaults), do not refuse it.
  const std::string saved = dir / "plain/checkpoints/step-00000006/config.toml";
  std::string older;
  for (const auto& line : split(read_file(saved), '\n')) {
    const std::string text(line);
    if (starts_with(text, "eval_every") || starts_with(text, "schedule")) continue;
    const auto hash = text.find('#');
    older += (hash == std::string::npos ? text : text.substr(0, hash) + "# older wording") + "\n";
  }
  ASSERT_NE(older, read_file(saved));
  write_text(saved, older);
  // Resuming a finished run does nothing and succeeds (a requeued job that had finished), also
  // with other network settings (run control: where and how long ranks wait for each other).
  r = run_pkd(base +
              " --window-examples 1000 --set parallel.timeout_s=60 --set "
              "parallel.rendezvous_timeout_s=5 --set parallel.gloo_interface=ib0 --resume "
              "--output-dir " +
              (dir / "plain"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The checkpoint is a model directory `pkd eval` loads.
  r = run_pkd("eval --model " + (dir / "plain/checkpoints/step-00000006") + " --tokens " +
              (dir / "tokens/train") + " --intra-op-threads 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("accuracy"), std::string::npos) << r.output;
}

// MNLI's second dev and test splits: extra_dev is scored by the exported model and merged into
// eval_results.json, extra_test predicted into MNLI-mm.tsv; splits of another task are refused
// before training. Data: real RTE sentence pairs in MNLI's layout (MNLI is not bundled).
TEST(Finetune, ExtraDevAndTestSplitsMnli) {
  TempDir dir;
  const auto rows = split(read_file(source_dir() + "/data/glue/RTE/dev.tsv"), '\n');
  auto write = [&](const std::string& name, std::size_t from, std::size_t to, bool labels) {
    std::string text =
        labels ? "index\tsentence1\tsentence2\tgold_label\n" : "index\tsentence1\tsentence2\n";
    for (std::size_t i = from; i < to; ++i) {
      auto f = split(rows[i], '\t');
      text += f[0] + "\t" + f[1] + "\t" + f[2];
      if (labels)
        text += f[3] == "entailment" ? "\tentailment" : (i % 2 ? "\tneutral" : "\tcontradiction");
      text += "\n";
    }
    write_text(dir / ("mnli/" + name + ".tsv"), text);
  };
  write("train", 1, 161, true);
  write("dev_matched", 161, 201, true);
  write("dev_mismatched", 201, 241, true);
  write("test_matched", 241, 259, false);
  write("test_mismatched", 259, 277, false);
  auto r =
      run_pkd("tokenize --task MNLI --data-dir " + (dir / "mnli") + " --vocab " + source_dir() +
              "/data/vocab/vocab.txt --out " + (dir / "tokens") + " --max-seq-length 64");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string base = "finetune --init random --train " + (dir / "tokens/train") + " --dev " +
                           (dir / "tokens/dev_matched") + " --hidden-size 32" +
                           " --num-hidden-layers 1 --num-attention-heads 2 --intermediate-size 64" +
                           " --epochs 1 --batch-size 16 --intra-op-threads 1";
  r = run_pkd(base + " --test " + (dir / "tokens/test_matched") + " --extra-dev " +
              (dir / "tokens/dev_mismatched") + " --extra-test " +
              (dir / "tokens/test_mismatched") + " --output-dir " + (dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto results = nlohmann::json::parse(read_file(dir / "out/eval_results.json"));
  ASSERT_TRUE(results.contains("dev_matched")) << results.dump();
  ASSERT_TRUE(results.contains("dev_mismatched")) << results.dump();
  // The merged metrics are the exported model's: pkd eval reproduces them.
  r = run_pkd("eval --model " + (dir / "out/model") + " --tokens " +
              (dir / "tokens/dev_mismatched") + " --out " + (dir / "eval.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto again = nlohmann::json::parse(read_file(dir / "eval.json"));
  EXPECT_EQ(again["dev_mismatched"]["accuracy"], results["dev_mismatched"]["accuracy"]);
  for (const char* name : {"out/MNLI-m.tsv", "out/MNLI-mm.tsv"}) {  // header + 18 predictions
    const std::string text = read_file(dir / name);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 19) << name;
  }
  // A split of another task is refused before any training.
  ASSERT_EQ(run_pkd("tokenize --task SST-2 --data-dir " + source_dir() + "/data/glue/SST-2" +
                    " --vocab " + source_dir() + "/data/vocab/vocab.txt --out " + (dir / "sst2"))
                .exit_code,
            0);
  r = run_pkd(base + " --extra-dev " + (dir / "sst2/dev") + " --output-dir " + (dir / "bad"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("is task SST-2 but the training split"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "bad/checkpoints"));
  // A test split (no gold labels) cannot be scored: refused before training too.
  r = run_pkd(base + " --extra-dev " + (dir / "tokens/test_mismatched") + " --output-dir " +
              (dir / "unlabeled"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("(test_mismatched) has no gold labels"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "unlabeled/checkpoints"));
}

}  // namespace
}  // namespace pkd::test
