// Distillation beyond [CLS] through the real binary, on real SST-2 rows and the 4-layer golden
// checkpoint as the teacher: cache-teacher's token-level features equal a direct forward of each
// example alone and its --dry-run bytes are what it writes; every objective trains a narrower
// student from cached features exactly as from the online teacher; the learned projection is
// checkpointed and resumed but not exported; what the cache lacks is named.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/fs.h"
#include "inference/cache_teacher.h"
#include "model/hf_weights.h"
#include "model/safetensors.h"
#include "shards/feature_shard.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

std::string teacher() {
  return source_dir() + "/tests/data/bert/random-4L-64H";
}

class TokenDistill : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
    std::size_t cut = 0;
    for (int lines = 0; lines < 161; ++lines) cut = train.find('\n', cut) + 1;
    write_text(dir_ / "data/train.tsv", train.substr(0, cut));
    write_text(dir_ / "data/dev.tsv", train.substr(0, cut));
    auto r =
        run_pkd("tokenize --task SST-2 --data-dir " + (dir_ / "data") + " --vocab " + source_dir() +
                "/data/vocab/vocab.txt --out " + (dir_ / "tokens") + " --shard-size 64");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  CommandResult cache(const std::string& out, const std::string& extra) {
    return run_pkd("cache-teacher --model " + teacher() + " --tokens " + (dir_ / "tokens/train") +
                   " --out " + (dir_ / out) + " --batch-size 16 " + extra);
  }
  // A 2-layer student of width 32 (the teacher's: 64), 4 heads, from random weights.
  CommandResult distill(const std::string& out, const std::string& extra) {
    return run_pkd("distill --train " + (dir_ / "tokens/train") + " --teacher " + teacher() +
                   " --student-init random --student-layers 2 --student-hidden-size 32"
                   " --student-dropout 0 --batch-size 16 --output-dir " +
                   (dir_ / out) + " " + extra);
  }
  model::StateDict weights(const std::string& run) {
    return model::read_safetensors(dir_ / (run + "/model/model.safetensors"));
  }
  TempDir dir_;
};

double max_difference(const model::StateDict& a, const model::StateDict& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    if (it == b.end()) return INFINITY;
    d = std::max(d, (t - it->second).abs().max().item<double>());
  }
  return d;
}

TEST_F(TokenDistill, CacheHoldsEveryTokenOfTheDirectForward) {
  auto r = cache("f", "--dtype float32 --layers 0,2,4 --attention-layers 1,3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto model = model::load_pretrained(teacher());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto tokens = shards::read_manifest(dir_ / "tokens/train");
  const auto features = shards::read_feature_manifest(dir_ / "f");
  EXPECT_EQ(features.token_layers.hidden, (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_EQ(features.token_layers.attention, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(features.num_tokens, tokens.num_tokens);
  std::int64_t checked = 0, bytes = 0;
  for (const auto& entry : tokens.shards) {
    auto t = shards::read_token_shard(dir_ / ("tokens/train/" + entry.file));
    auto f = shards::read_feature_shard(dir_ / ("f/" + entry.file), {{}, {{0, 2, 4}, {1, 3}}});
    ASSERT_EQ(f.token_offsets, t.offsets);
    for (std::int64_t k = 0; k < t.size(); ++k, ++checked) {
      const auto begin = t.offsets[static_cast<std::size_t>(k)];
      const auto len = t.offsets[static_cast<std::size_t>(k) + 1] - begin;
      std::vector<std::int64_t> ids(t.input_ids.begin() + begin, t.input_ids.begin() + begin + len);
      auto id = torch::tensor(ids).unsqueeze(0);
      auto out =
          model(id, torch::zeros_like(id), torch::ones_like(id), model::HiddenStates::all, true);
      for (std::size_t j = 0; j < 3; ++j) {
        auto cached = torch::empty({len, 64});
        f.token_hidden[j].copy_to(cached.data_ptr<float>(), begin * 64, len * 64);
        auto direct = out.hidden_states[j == 0 ? 0 : 2 * j][0];
        ASSERT_LE((cached - direct).abs().max().item<double>(),
                  1e-5 * (1 + direct.abs().max().item<double>()))
            << entry.file << " example " << k << " row " << j;
      }
      for (std::size_t j = 0; j < 2; ++j) {
        const auto at = f.attention_offsets[static_cast<std::size_t>(k)];
        auto cached = torch::empty({4, len, len});
        f.attention[j].copy_to(cached.data_ptr<float>(), at, 4 * len * len);
        auto direct = out.attentions[2 * j][0];  // layers 1 and 3
        // Batched (padded) against alone: float32 summation order.
        ASSERT_LE((cached - direct).abs().max().item<double>(), 1e-5) << entry.file << " " << k;
      }
    }
    // --dry-run's arithmetic: the stored datasets' bytes, counted from the file.
    h5::File file = h5::File::open_read(dir_ / ("f/" + entry.file));
    for (const char* name :
         {"logits", "cls_hidden", "example_ids", "token_offsets", "token_hidden_0",
          "token_hidden_2", "token_hidden_4", "attention_1", "attention_3"})
      bytes += file.dataset_info(name).length *
               (std::string(name) == "example_ids" || std::string(name) == "token_offsets" ? 8 : 4);
  }
  EXPECT_EQ(checked, 160);
  inference::CacheTeacherConfig c;
  c.model = teacher();
  c.tokens = dir_ / "tokens/train";
  c.out = dir_ / "f";
  c.dtype = "float32";
  c.layers = "0,2,4";
  c.attention_layers = "1,3";
  EXPECT_EQ(inference::estimate_cache(c, {}).bytes(), bytes);
  r = cache("dry", "--layers all --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("per million tokens"), std::string::npos) << r.output;
  EXPECT_FALSE(file_exists(dir_ / "dry/manifest.json"));
  // pkd inspect states what a feature split holds and its disk use per million tokens.
  r = run_pkd("inspect " + (dir_ / "f"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("token hidden states: rows 0,2,4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("per million tokens"), std::string::npos) << r.output;
}

// Each objective, narrow student: two steps from cached float32 features equal two steps with
// the teacher run online.
TEST_F(TokenDistill, CachedEqualsOnlineForEachObjective) {
  ASSERT_EQ(cache("f", "--dtype float32 --layers all --attention-layers all").exit_code, 0);
  const std::vector<std::string> objectives = {
      "--beta 10",  // PKD's [CLS] loss through the projection
      "--beta 0 --hidden-weight 1", "--beta 0 --embedding-weight 1",
      "--beta 0 --attention-weight 1", "--beta 0 --attention-weight 1 --attention-loss kl"};
  for (std::size_t i = 0; i < objectives.size(); ++i) {
    const std::string common = objectives[i] + " --max-steps 2 --checkpoint-every 1";
    const std::string cached = "cached" + std::to_string(i), online = "online" + std::to_string(i);
    auto r = distill(cached, common + " --features " + (dir_ / "f"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = distill(online, common + " --online-teacher");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_LE(max_difference(weights(cached), weights(online)), 1e-5) << objectives[i];
    // The projection is trained and checkpointed, never exported.
    const bool projected = i < 3;
    EXPECT_EQ(file_exists(dir_ / (cached + "/checkpoints/step-00000002/objective.safetensors")),
              projected)
        << objectives[i];
    for (const auto& [name, t] : weights(cached))
      EXPECT_EQ(name.find("projection"), std::string::npos) << name;
  }
}

// A run stopped after 2 steps and resumed equals an uninterrupted one: the projection and its
// AdamW moments come back from the checkpoint.
TEST_F(TokenDistill, ResumeEqualsUninterrupted) {
  ASSERT_EQ(cache("f", "--layers 0,2,4 --attention-layers 2,4").exit_code, 0);
  const std::string common =
      "--features " + (dir_ / "f") +
      " --beta 10 --hidden-weight 1 --embedding-weight 1 --attention-weight 1 --max-steps 4";
  ASSERT_EQ(distill("whole", common).exit_code, 0);
  auto r = distill("parts", common + " --stop-after-steps 2");
  ASSERT_EQ(r.exit_code, 75) << r.output;  // stopped as if preempted: requeue me
  ASSERT_TRUE(file_exists(dir_ / "parts/checkpoints/step-00000002/objective.safetensors"));
  r = distill("parts", common + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(max_difference(weights("whole"), weights("parts")), 0.0);
}

// `pkd report` gives runs of the new objectives rows of their own, named by width and terms.
TEST_F(TokenDistill, ReportNamesTheRows) {
  const std::string common = "--online-teacher --max-steps 2 --dev " + (dir_ / "tokens/dev") + " ";
  ASSERT_EQ(distill("runs/pkd", common + "--beta 10").exit_code, 0);
  ASSERT_EQ(distill("runs/tiny", common + "--beta 0 --hidden-weight 1 --embedding-weight 1 "
                                          "--attention-weight 1 --attention-loss kl")
                .exit_code,
            0);
  auto r = run_pkd("report --runs " + (dir_ / "runs") + " --out " + (dir_ / "report"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string md = read_file(dir_ / "report/results.md");
  EXPECT_NE(md.find("| BERT2x32-PKD-Skip | "), std::string::npos) << md;
  EXPECT_NE(md.find("| BERT2x32-KD+HID+EMB+ATT-KL | "), std::string::npos) << md;
}

TEST_F(TokenDistill, WhatTheCacheLacksIsNamed) {
  ASSERT_EQ(cache("f", "--layers 0").exit_code, 0);
  auto r = distill("out", "--features " + (dir_ / "f") + " --hidden-weight 1 --attention-weight 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("every token's hidden state of rows 2,4 (they hold 0)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("attention probabilities of layers 2,4 (they hold none)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--layers 2,4 --attention-layers 2,4"), std::string::npos) << r.output;
  r = distill("out", "--online-teacher --attention-weight 1 --student-heads 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("the student has 2 heads, the teacher 4"), std::string::npos) << r.output;
  r = run_pkd("distill --train " + (dir_ / "tokens/train") + " --teacher " + teacher() +
              " --features " + (dir_ / "f") +
              " --student-layers 2 --student-hidden-size 32 --output-dir " + (dir_ / "out"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("it needs student_init = random"), std::string::npos) << r.output;
  r = cache("g", "--layers 0,7");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("'7' is not a layer of 0..4"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pkd::test
