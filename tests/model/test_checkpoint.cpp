// Checkpoint I/O both ways (HuggingFace names, legacy names, pretraining checkpoints, exports
// that HuggingFace's module tree loads strictly, teacher layers for a student, half-precision
// weights), checked against the float64 references (bert_goldens.h), and bad checkpoints: a
// clear Error each, never a crash.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "model/bert_goldens.h"
#include "model/hf_weights.h"
#include "model/safetensors.h"
#include "support/test_support.h"

namespace pkd::model {
namespace {

using goldens::golden_dir;
using goldens::model_from;
using goldens::Outputs;
using goldens::reference;
using goldens::rel_err;
using goldens::run;

TEST(Checkpoint, ParameterNamesAreHuggingFaces) {
  auto st = read_safetensors(golden_dir() + "/model.safetensors");
  BertForSequenceClassification m(BertConfig::load(golden_dir() + "/config.json"));
  auto params = m->named_parameters();
  EXPECT_EQ(params.size(), st.size());
  for (const auto& [name, t] : st) EXPECT_TRUE(params.contains(name)) << name;
}

TEST(Checkpoint, LegacyNamesLoadToTheSameOutputs) {
  StateDict legacy;
  for (const auto& [name, t] : read_safetensors(golden_dir() + "/model.safetensors")) {
    std::string n = name;
    if (ends_with(n, "LayerNorm.weight")) n = n.substr(0, n.size() - 6) + "gamma";
    if (ends_with(n, "LayerNorm.bias")) n = n.substr(0, n.size() - 4) + "beta";
    if (starts_with(n, "bert.")) n = n.substr(5);  // a BertModel-style checkpoint
    legacy[n] = t;
  }
  auto a = model_from(read_safetensors(golden_dir() + "/model.safetensors"), torch::kFloat);
  auto b = model_from(legacy, torch::kFloat);
  EXPECT_TRUE(torch::equal(run(a, 8).logits, run(b, 8).logits));
}

TEST(Checkpoint, PretrainingCheckpointGetsANewClassifier) {
  auto weights = read_safetensors(golden_dir() + "/model.safetensors");
  weights.erase("classifier.weight");
  weights.erase("classifier.bias");
  weights["cls.predictions.bias"] = torch::zeros({30522});
  weights["bert.embeddings.position_ids"] = torch::arange(512);
  BertForSequenceClassification m(BertConfig::load(golden_dir() + "/config.json"));
  torch::manual_seed(0);
  LoadReport report = load_state_dict(m, weights, "pretraining");
  EXPECT_TRUE(report.classifier_initialized);
  EXPECT_EQ(report.ignored.size(), 2u);
  EXPECT_NEAR(m->classifier->weight.std().item<double>(), 0.02, 0.01);
  EXPECT_EQ(m->classifier->bias.abs().sum().item<double>(), 0.0);
}

TEST(Checkpoint, ExportRoundTripsExactly) {
  test::TempDir dir;
  auto m = model_from(read_safetensors(golden_dir() + "/model.safetensors"), torch::kFloat);
  export_pretrained(m, dir / "export", test::source_dir() + "/data/vocab/vocab.txt");
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt"})
    EXPECT_TRUE(file_exists(dir / (std::string("export/") + f))) << f;
  SafetensorsFile st = SafetensorsFile::open(dir / "export/model.safetensors");
  EXPECT_EQ(st.metadata().at("format"), "pt");
  LoadReport report;
  auto back = load_pretrained(dir / "export", &report);
  back->eval();
  EXPECT_EQ(report.summary(), "all tensors matched");
  EXPECT_EQ(back->config().to_json(), m->config().to_json());
  auto a = run(m, 16), b = run(back, 16);
  EXPECT_TRUE(torch::equal(a.logits, b.logits));
  EXPECT_TRUE(torch::equal(a.cls_hidden, b.cls_hidden));
}

// An independent implementation with HuggingFace's module tree (tools/bert_reference.py, plain
// PyTorch) loads pkd's export strictly and reproduces the HF goldens: the directory is
// HuggingFace-loadable, names, shapes and layout included.
TEST(Checkpoint, ExportLoadsStrictlyIntoHuggingFacesModuleTree) {
  test::TempDir dir;
  auto m = model_from(read_safetensors(golden_dir() + "/model.safetensors"), torch::kFloat);
  export_pretrained(m, dir / "export", "");
  std::filesystem::copy_file(golden_dir() + "/reference.h5", dir / "export/reference.h5");
  auto r = test::run(test::python() + " " + test::source_dir() +
                     "/tools/bert_reference.py --check " + (dir / "export"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("PASS"), std::string::npos) << r.output;
}

TEST(Checkpoint, StudentTakesTheChosenTeacherLayers) {
  auto teacher = read_safetensors(golden_dir() + "/model.safetensors");
  BertConfig c = BertConfig::load(golden_dir() + "/config.json");
  c.num_hidden_layers = 2;
  BertForSequenceClassification student(c);
  load_state_dict(student, select_layers(teacher, {1, 3}), "student");
  auto p = student->named_parameters();
  EXPECT_TRUE(torch::equal(p["bert.encoder.layer.0.output.dense.weight"],
                           teacher["bert.encoder.layer.1.output.dense.weight"]));
  EXPECT_TRUE(torch::equal(p["bert.encoder.layer.1.attention.self.key.bias"],
                           teacher["bert.encoder.layer.3.attention.self.key.bias"]));
  EXPECT_TRUE(torch::equal(p["bert.embeddings.word_embeddings.weight"],
                           teacher["bert.embeddings.word_embeddings.weight"]));
  EXPECT_THROW(select_layers(teacher, {4}), Error);
}

TEST(Checkpoint, HalfPrecisionWeightsLoad) {
  test::TempDir dir;
  auto weights = read_safetensors(golden_dir() + "/model.safetensors");
  for (auto [type, name] : {std::pair{torch::kHalf, "F16"}, std::pair{torch::kBFloat16, "BF16"}}) {
    std::vector<torch::Tensor> owned;
    std::vector<SafetensorsTensor> tensors;
    for (const auto& [n, t] : weights) {
      owned.push_back(t.to(type).contiguous());
      tensors.push_back({n, name, t.sizes().vec(), owned.back().data_ptr()});
    }
    write_safetensors(dir / "h.safetensors", tensors, {});
    auto m = model_from(read_safetensors(dir / "h.safetensors"), torch::kFloat);
    // Rounding the weights to 16 bits moves the outputs by about that much, not more.
    EXPECT_LE(rel_err(run(m, 16).logits, reference().logits), 5e-2) << name;
  }
}

// ---- bad checkpoints: a clear Error each, never a crash ----

TEST(BadCheckpoint, TruncatedAndLyingFiles) {
  test::TempDir dir;
  std::string bytes = read_file(golden_dir() + "/model.safetensors");
  test::write_text(dir / "t.safetensors", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(test::error_of([&] { read_safetensors(dir / "t.safetensors"); }).find("outside"),
            std::string::npos);
  test::write_text(dir / "s.safetensors", "abc");
  EXPECT_NE(test::error_of([&] { read_safetensors(dir / "s.safetensors"); }).find("truncated"),
            std::string::npos);
  std::string lying = bytes;
  lying[5] = '\x7f';  // header length of ~10^14 bytes
  test::write_text(dir / "l.safetensors", lying);
  EXPECT_NE(test::error_of([&] { read_safetensors(dir / "l.safetensors"); }).find("header claims"),
            std::string::npos);
  std::string garbage = bytes;
  garbage[8] = '#';  // header JSON broken
  test::write_text(dir / "g.safetensors", garbage);
  EXPECT_NE(test::error_of([&] { read_safetensors(dir / "g.safetensors"); }).find("not valid JSON"),
            std::string::npos);
}

TEST(BadCheckpoint, WrongDtypeShapeAndMissingTensors) {
  test::TempDir dir;
  std::vector<std::int32_t> ints(4, 1);
  write_safetensors(dir / "i.safetensors", {{"classifier.bias", "I32", {4}, ints.data()}}, {});
  EXPECT_NE(test::error_of([&] { read_safetensors(dir / "i.safetensors"); }).find("has dtype I32"),
            std::string::npos);

  auto weights = read_safetensors(golden_dir() + "/model.safetensors");
  auto missing = weights;
  missing.erase("bert.encoder.layer.2.output.dense.weight");
  BertForSequenceClassification m(BertConfig::load(golden_dir() + "/config.json"));
  std::string msg = test::error_of([&] { load_state_dict(m, missing, "x"); });
  EXPECT_NE(msg.find("missing: bert.encoder.layer.2.output.dense.weight"), std::string::npos)
      << msg;
  auto wrong = weights;
  wrong["bert.pooler.dense.weight"] = torch::zeros({64, 32});
  msg = test::error_of([&] { load_state_dict(m, wrong, "x"); });
  EXPECT_NE(msg.find("bert.pooler.dense.weight has shape [64, 32]"), std::string::npos) << msg;
  auto extra = weights;
  extra["bert.encoder.layer.7.output.dense.weight"] = torch::zeros({64, 128});
  msg = test::error_of([&] { load_state_dict(m, extra, "x"); });
  EXPECT_NE(msg.find("bert.encoder.layer.7.output.dense.weight is not a parameter"),
            std::string::npos)
      << msg;
}

TEST(BadCheckpoint, PytorchBinProblems) {
  test::TempDir dir;
  test::write_text(dir / "legacy.bin", std::string("\x80\x02\x8a\x0a"
                                                   "lZ\xfc\x9c"
                                                   "F\xf9 j\xa8P\x19.",
                                                   16));
  EXPECT_NE(test::error_of([&] { read_pytorch_bin(dir / "legacy.bin"); }).find("legacy"),
            std::string::npos);
  test::write_text(dir / "junk.bin", "definitely not a checkpoint");
  EXPECT_NE(
      test::error_of([&] { read_pytorch_bin(dir / "junk.bin"); }).find("not a torch.save zip"),
      std::string::npos);
  std::string bytes = read_file(golden_dir() + "/pytorch_model.bin");
  test::write_text(dir / "half.bin", bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(test::error_of([&] { read_pytorch_bin(dir / "half.bin"); }).find("could not be read"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { read_checkpoint_dir(dir.path()); }).find("neither"),
            std::string::npos);
}

TEST(BadCheckpoint, WrongConfig) {
  std::string good = read_file(golden_dir() + "/config.json");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return test::error_of([&] { BertConfig::from_json(s, "config.json"); });
  };
  EXPECT_NE(with("\"hidden_size\": 64", "\"hidden_size\": 65")
                .find("not a multiple of num_attention_heads"),
            std::string::npos);
  EXPECT_NE(with("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\"").find("expected \"bert\""),
            std::string::npos);
  EXPECT_NE(with("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swish\"").find("not supported"),
            std::string::npos);
  EXPECT_NE(with("\"num_hidden_layers\": 4", "\"num_hidden_layers\": \"four\"").find("wrong type"),
            std::string::npos);
  EXPECT_NE(
      test::error_of([&] { BertConfig::from_json("{", "config.json"); }).find("not valid JSON"),
      std::string::npos);
}

// core/fs.h's remove_tree, in the test binary that links LibTorch: with the PyTorch wheel's,
// std::filesystem::remove_all crashed (a call through a null pointer), so pkd removes trees
// itself. A whole tree goes; what a link inside points to stays; nothing there is no error.
TEST(RemoveTree, RemovesATreeButNotWhatItsLinksPointTo) {
  test::TempDir dir;
  const std::string outside = dir / "outside";
  test::write_text(outside + "/keep.txt", "keep\n");
  const std::string tree = dir / "tree";
  test::write_text(tree + "/a/b/c.txt", "c\n");
  test::write_text(tree + "/top.txt", "top\n");
  std::filesystem::create_directory_symlink(outside, tree + "/a/link");
  remove_tree(tree);
  EXPECT_FALSE(file_exists(tree));
  EXPECT_TRUE(file_exists(outside + "/keep.txt"));
  EXPECT_NO_THROW(remove_tree(tree));  // already gone
  EXPECT_NO_THROW(remove_tree(outside + "/keep.txt/below"));
  remove_tree(outside + "/keep.txt");  // a file
  EXPECT_FALSE(file_exists(outside + "/keep.txt"));
  EXPECT_TRUE(remove_tree_quietly(outside));
  EXPECT_FALSE(file_exists(outside));
}

}  // namespace
}  // namespace pkd::model
