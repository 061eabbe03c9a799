// `pkd cache-teacher` through the real binary, with the HuggingFace golden checkpoint as the
// teacher: cached features equal a direct forward of each example alone (float32: 1e-5 relative
// per example; float16: within half-precision rounding), re-runs skip, other teachers are refused,
// runtime.precision applies to caching and to eval/predict.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/sha256.h"
#include "inference/predict.h"
#include "model/hf_weights.h"
#include "model/runtime.h"
#include "mpi/comm.h"
#include "shards/feature_shard.h"
#include "shards/manifest.h"
#include "shards/token_shard.h"
#include "support/test_support.h"

namespace pkd::inference {
namespace {

std::string teacher_dir() {
  return test::source_dir() + "/tests/data/bert/random-4L-64H";
}

class CacheTeacher : public ::testing::Test {
 protected:
  void SetUp() override {
    // RTE dev: sentence pairs, some truncated to 128 tokens; 3 shards.
    auto r =
        test::run_pkd("tokenize --task RTE --data-dir " + test::source_dir() +
                      "/data/glue/RTE --vocab " + test::source_dir() +
                      "/data/vocab/vocab.txt --out " + (dir_ / "tokens") + " --shard-size 100");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  test::CommandResult cache(const std::string& out, const std::string& extra = "",
                            const std::string& model = "") {
    return test::run_pkd("cache-teacher --model " + (model.empty() ? teacher_dir() : model) +
                         " --tokens " + (dir_ / "tokens/dev") + " --out " + (dir_ / out) +
                         " --batch-size 16 " + extra);
  }
  // Every example alone through the teacher, compared with the cached features.
  void expect_equal_to_direct_forward(const std::string& features, bool half) {
    auto teacher = model::load_pretrained(teacher_dir());
    teacher->eval();
    torch::NoGradGuard no_grad;
    shards::TokenManifest tokens = shards::read_manifest(dir_ / "tokens/dev");
    shards::FeatureManifest m = shards::read_feature_manifest(dir_ / features);
    ASSERT_EQ(m.shards.size(), tokens.shards.size());
    EXPECT_EQ(m.dtype, half ? "float16" : "float32");
    std::int64_t checked = 0;
    for (const auto& entry : tokens.shards) {
      auto t = shards::read_token_shard(dir_ / ("tokens/dev/" + entry.file));
      auto f = shards::read_feature_shard(dir_ / (features + "/" + entry.file));
      ASSERT_EQ(f.example_ids, t.example_ids);
      const auto n = t.size(), layers = f.header.num_layers, hidden = f.header.hidden_size;
      auto logits = torch::from_blob(f.logits.data(), {n, 2}, torch::kFloat);
      auto cls = torch::from_blob(f.cls_hidden.data(), {layers + 1, n, hidden}, torch::kFloat);
      for (std::int64_t k = 0; k < n; ++k) {
        auto begin = t.offsets[static_cast<std::size_t>(k)],
             end = t.offsets[static_cast<std::size_t>(k) + 1];
        std::vector<std::int64_t> ids(t.input_ids.begin() + begin, t.input_ids.begin() + end);
        std::vector<std::int64_t> types(t.token_type_ids.begin() + begin,
                                        t.token_type_ids.begin() + end);
        auto id_tensor = torch::tensor(ids).unsqueeze(0);
        auto out = teacher(id_tensor, torch::tensor(types).unsqueeze(0),
                           torch::ones_like(id_tensor), model::HiddenStates::cls);
        auto direct_cls = torch::stack(out.hidden_states).select(1, 0);  // [L+1, H]
        auto cached_cls = cls.select(1, k);
        auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
          return (a - b).norm().item<double>() / b.norm().item<double>();
        };
        ASSERT_LE(rel(logits[k], out.logits[0]), 1e-5) << entry.file << " example " << k;
        if (half) {
          // Each element is the float32 value rounded to float16: error <= 2^-11 relative.
          auto tolerance = direct_cls.abs() * (1.0 / 2048) + 1e-6;
          ASSERT_TRUE(((cached_cls - direct_cls).abs() <= tolerance).all().item<bool>())
              << entry.file << " " << k;
        } else {
          ASSERT_LE(rel(cached_cls, direct_cls), 1e-5) << entry.file << " example " << k;
        }
        ++checked;
      }
    }
    EXPECT_EQ(checked, 277);
  }
  test::TempDir dir_;
};

TEST_F(CacheTeacher, Float32FeaturesEqualADirectForward) {
  auto r = cache("f32", "--dtype float32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_equal_to_direct_forward("f32", false);
}

TEST_F(CacheTeacher, Float16FeaturesAreTheRoundedForward) {
  auto r = cache("f16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_equal_to_direct_forward("f16", true);
  // Only the layers asked for are read.
  auto all = shards::read_feature_shard(dir_ / "f16/shard-00000.h5");
  auto some = shards::read_feature_shard(dir_ / "f16/shard-00000.h5", {{2, 4}, {}});
  const std::size_t row = static_cast<std::size_t>(100 * 64);
  ASSERT_EQ(some.cls_hidden.size(), 2 * row);
  EXPECT_TRUE(std::equal(some.cls_hidden.begin(), some.cls_hidden.begin() + row,
                         all.cls_hidden.begin() + 2 * row));
  EXPECT_TRUE(std::equal(some.cls_hidden.begin() + row, some.cls_hidden.end(),
                         all.cls_hidden.begin() + 4 * row));
}

TEST_F(CacheTeacher, RerunsSkipAndOtherTeachersAreRefused) {
  ASSERT_EQ(cache("f").exit_code, 0);
  auto r = cache("f");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("up to date"), std::string::npos) << r.output;
  // An interrupted run: no manifest, one shard missing -> only that shard is computed.
  remove_tree(dir_ / "f/manifest.json");
  remove_tree(dir_ / "f/shard-00001.h5");
  r = cache("f");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 shards computed"), std::string::npos) << r.output;
  // Another teacher: the same architecture with one weight changed.
  auto other = model::load_pretrained(teacher_dir());
  {
    torch::NoGradGuard no_grad;
    other->classifier->bias.add_(0.5);
  }
  model::export_pretrained(other, dir_ / "other_teacher", "");
  r = cache("f", "", dir_ / "other_teacher");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("another teacher"), std::string::npos) << r.output;
  r = cache("f", "--overwrite", dir_ / "other_teacher");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto h = shards::read_feature_shard_header(dir_ / "f/shard-00000.h5");
  EXPECT_EQ(h.fingerprint.teacher_weights_sha256,
            sha256_file(dir_ / "other_teacher/model.safetensors"));
}

TEST_F(CacheTeacher, BadInputs) {
  auto r = test::run_pkd("cache-teacher --model " + (dir_ / "nowhere") + " --tokens " +
                         (dir_ / "tokens/dev") + " --out " + (dir_ / "x"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
  r = test::run_pkd("cache-teacher --model " + teacher_dir() + " --tokens " + (dir_ / "tokens") +
                    " --out " + (dir_ / "x"));
  EXPECT_NE(r.output.find("is not a complete `pkd tokenize` split directory"), std::string::npos)
      << r.output;
  // A regression task's tokens with a 2-label teacher.
  ASSERT_EQ(test::run_pkd("tokenize --task STS-B --data-dir " + test::source_dir() +
                          "/data/glue/STS-B --vocab " + test::source_dir() +
                          "/data/vocab/vocab.txt --out " + (dir_ / "stsb"))
                .exit_code,
            0);
  r = test::run_pkd("cache-teacher --model " + teacher_dir() + " --tokens " + (dir_ / "stsb/dev") +
                    " --out " + (dir_ / "x"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("has 2 outputs but task STS-B has 1 (regression)"), std::string::npos)
      << r.output;
  r = cache("x", "--dtype float8");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cache_teacher.dtype must be float16 or float32"), std::string::npos)
      << r.output;
  if (!torch::cuda::is_available()) {  // where a GPU exists, --device cuda is no error
    r = cache("x", "--device cuda");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find("has no CUDA"), std::string::npos) << r.output;
  }
}

// `pkd eval` and `pkd predict` with the golden teacher on RTE dev: the metric equals the accuracy
// of a direct forward of every example alone; the submission file agrees with it.
// runtime.precision reaches every inference forward: bfloat16 autocast changes the cached
// features and the predictions of eval/predict (their shared predict_split) by bfloat16
// rounding, neither nothing (autocast ignored) nor more (a broken forward).
TEST_F(CacheTeacher, PrecisionAppliesToCachingAndPredictions) {
  auto relative = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a - b).norm() / b.norm()).item<double>();
  };
  ASSERT_EQ(cache("f32", "--dtype float32").exit_code, 0);
  auto r = cache("bf16", "--dtype float32 --precision bfloat16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto f32 = shards::read_feature_shard(dir_ / "f32/shard-00000.h5");
  auto bf16 = shards::read_feature_shard(dir_ / "bf16/shard-00000.h5");
  ASSERT_EQ(f32.logits.size(), bf16.logits.size());
  const auto n = static_cast<std::int64_t>(f32.logits.size());
  const double cached = relative(torch::from_blob(bf16.logits.data(), {n}, torch::kFloat),
                                 torch::from_blob(f32.logits.data(), {n}, torch::kFloat));
  EXPECT_GT(cached, 1e-4) << "cache-teacher --precision bfloat16 ran in float32";
  EXPECT_LT(cached, 5e-2);

  auto teacher = model::load_pretrained(teacher_dir());
  auto logits = [&](const std::string& precision) {
    model::RuntimeConfig rc;
    rc.precision = precision;
    rc.intra_op_threads = 1;
    model::Runtime runtime(rc, 1);
    const auto p = predict_split(teacher, runtime, dir_ / "tokens/dev", 16, mpi::Comm::world());
    std::vector<float> flat;
    for (const auto& row : p.logits) flat.insert(flat.end(), row.begin(), row.end());
    return torch::tensor(flat);
  };
  const double predicted = relative(logits("bfloat16"), logits("float32"));
  EXPECT_GT(predicted, 1e-4) << "predict_split ignored runtime.precision = bfloat16";
  EXPECT_LT(predicted, 5e-2);
}

TEST_F(CacheTeacher, EvalAndPredictAgreeWithADirectForward) {
  auto teacher = model::load_pretrained(teacher_dir());
  teacher->eval();
  torch::NoGradGuard no_grad;
  shards::TokenManifest tokens = shards::read_manifest(dir_ / "tokens/dev");
  std::map<std::int64_t, std::int64_t> gold, direct;
  for (const auto& entry : tokens.shards) {
    auto t = shards::read_token_shard(dir_ / ("tokens/dev/" + entry.file));
    for (std::int64_t k = 0; k < t.size(); ++k) {
      auto begin = t.offsets[static_cast<std::size_t>(k)],
           end = t.offsets[static_cast<std::size_t>(k) + 1];
      auto ids = torch::tensor(std::vector<std::int64_t>(t.input_ids.begin() + begin,
                                                         t.input_ids.begin() + end))
                     .unsqueeze(0);
      auto types = torch::tensor(std::vector<std::int64_t>(t.token_type_ids.begin() + begin,
                                                           t.token_type_ids.begin() + end))
                       .unsqueeze(0);
      direct[t.example_ids[static_cast<std::size_t>(k)]] =
          teacher(ids, types, torch::ones_like(ids)).logits.argmax(1).item<std::int64_t>();
      gold[t.example_ids[static_cast<std::size_t>(k)]] = t.labels[static_cast<std::size_t>(k)];
    }
  }
  double correct = 0;
  for (const auto& [id, label] : gold) correct += direct[id] == label;
  const double expected = correct / static_cast<double>(gold.size());

  auto r = test::run_pkd("eval --model " + teacher_dir() + " --tokens " + (dir_ / "tokens/dev") +
                         " --out " + (dir_ / "eval_results.json") + " --batch-size 8");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto results = nlohmann::json::parse(read_file(dir_ / "eval_results.json"));
  EXPECT_NEAR(results.at("dev").at("accuracy").get<double>(), expected, 1.0 / 277 + 1e-12)
      << r.output;

  r = test::run_pkd("predict --model " + teacher_dir() + " --tokens " + (dir_ / "tokens/dev") +
                    " --out " + (dir_ / "RTE.tsv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto lines = split(read_file(dir_ / "RTE.tsv"), '\n');
  ASSERT_EQ(lines.size(), 279u);  // header + 277 rows + final newline
  EXPECT_EQ(lines[0], "index\tprediction");
  std::int64_t agree = 0;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    auto f = split(lines[i], '\t');
    ASSERT_EQ(f.size(), 2u) << lines[i];
    EXPECT_EQ(std::stoll(f[0]), static_cast<std::int64_t>(i - 1));  // GLUE index order
    ASSERT_TRUE(f[1] == "entailment" || f[1] == "not_entailment") << f[1];
    agree += (f[1] == "entailment" ? 0 : 1) == direct[std::stoll(f[0])];
  }
  EXPECT_GE(agree, 276);
}

TEST_F(CacheTeacher, EvalNeedsLabels) {
  ASSERT_EQ(test::run_pkd("tokenize --task SST-2 --data-dir " + test::source_dir() +
                          "/data/glue/SST-2 --splits test --vocab " + test::source_dir() +
                          "/data/vocab/vocab.txt --out " + (dir_ / "sst2"))
                .exit_code,
            0);
  auto r = test::run_pkd("eval --model " + teacher_dir() + " --tokens " + (dir_ / "sst2/test"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("has no labels: use `pkd predict`"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pkd::inference
