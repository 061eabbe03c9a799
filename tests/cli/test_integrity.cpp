// Verify before use (docs/reliability.md), through the real `pkd` binary on real HDF5 files: a
// damaged, swapped, foreign or miscounted shard is refused with a message naming the file and
// the field, in full and in metadata-only verification; a resume refuses other inputs; a model
// with another vocabulary is refused; a checkpoint's impossible position is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "shards/feature_shard.h"
#include "shards/token_shard.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {
namespace fs = std::filesystem;

// 100 SST-2 rows in shards of 40 (three shards), their dev split, and teacher features of the
// training split from two different teachers. Built once: each test copies what it damages.
class Integrity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const TempDir& d = *dir_;
    std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
    std::size_t cut = 0;
    for (int lines = 0; lines < 101; ++lines) cut = train.find('\n', cut) + 1;
    write_text(d / "data/train.tsv", train.substr(0, cut));
    write_text(d / "data/dev.tsv", train.substr(0, cut));
    auto ok = [](const CommandResult& r) { ASSERT_EQ(r.exit_code, 0) << r.output; };
    ok(run_pkd("tokenize --task SST-2 --shard-size 40 --data-dir " + (d / "data") + " --vocab " +
               source_dir() + "/data/vocab/vocab.txt --out " + (d / "tokens")));
    ok(run_pkd("cache-teacher --model " + teacher() + " --tokens " + (d / "tokens/train") +
               " --out " + (d / "features")));
    // Another teacher: the same architecture after one step.
    ok(run_pkd("finetune --init " + teacher() + " --train " + (d / "tokens/train") +
               " --max-steps 1 --output-dir " + (d / "other")));
    ok(run_pkd("cache-teacher --model " + (d / "other/model") + " --tokens " +
               (d / "tokens/train") + " --out " + (d / "other-features")));
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string teacher() { return source_dir() + "/tests/data/bert/random-4L-64H"; }
  static const TempDir& fixture() { return *dir_; }

  // A private copy of the fixture's `name` under this test's directory.
  std::string copy(const std::string& name) {
    fs::copy(fixture() / name, work_ / name, fs::copy_options::recursive);
    return work_ / name;
  }
  std::string finetune(const std::string& train, const std::string& extra = "") {
    return "finetune --init " + teacher() + " --train " + train + " --max-steps 2 --output-dir " +
           (work_ / "run") + " " + extra;
  }

  TempDir work_;

 private:
  static TempDir* dir_;
};
TempDir* Integrity::dir_ = nullptr;

void flip_byte(const std::string& path, std::size_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x20));
}

void edit_json(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(read_file(path));
  edit(j);
  write_text(path, j.dump(2));
}

#define EXPECT_REFUSED(r, code, text)                                  \
  do {                                                                 \
    EXPECT_EQ((r).exit_code, code) << (r).output;                      \
    EXPECT_NE((r).output.find(text), std::string::npos) << (r).output; \
  } while (0)

TEST_F(Integrity, DamagedTokenShardIsRefusedBeforeHdf5ReadsIt) {
  const std::string tokens = copy("tokens");
  // A byte in the middle of a shard (its datasets or metadata), then one in the superblock:
  // both fail the digest, before HDF5 parses anything.
  const std::string shard = tokens + "/train/shard-00001.h5";
  flip_byte(shard, fs::file_size(shard) / 2);
  auto r = run_pkd(finetune(tokens + "/train"));
  EXPECT_REFUSED(r, 1, "shard-00001.h5' has sha256 ");
  EXPECT_NE(r.output.find("its manifest records"), std::string::npos) << r.output;
  flip_byte(shard, fs::file_size(shard) / 2);  // undone
  flip_byte(shard, 100);
  r = run_pkd(finetune(tokens + "/train"));
  EXPECT_REFUSED(r, 1, "shard-00001.h5' has sha256 ");
  // eval/predict read through the same path.
  r = run_pkd("eval --model " + teacher() + " --tokens " + tokens + "/train");
  EXPECT_REFUSED(r, 1, "shard-00001.h5' has sha256 ");
}

TEST_F(Integrity, SwappedAndForeignShardsAreRefusedInBothModes) {
  const std::string tokens = copy("tokens");
  const std::string a = tokens + "/train/shard-00000.h5", b = tokens + "/train/shard-00001.h5";
  fs::rename(a, tokens + "/x");
  fs::rename(b, a);
  fs::rename(tokens + "/x", b);
  auto r = run_pkd(finetune(tokens + "/train"));
  EXPECT_REFUSED(r, 1, "shard-00000.h5' has sha256 ");
  r = run_pkd(finetune(tokens + "/train", "--verify metadata"));
  EXPECT_REFUSED(r, 1, "shard_index is 1, its manifest");
  EXPECT_NE(r.output.find("swapped or renamed"), std::string::npos) << r.output;
  // A dev shard copied over a training shard.
  fs::copy_file(tokens + "/dev/shard-00000.h5", a, fs::copy_options::overwrite_existing);
  r = run_pkd(finetune(tokens + "/train", "--verify metadata"));
  EXPECT_REFUSED(r, 1, "split is dev, its manifest");
}

TEST_F(Integrity, ManifestCountsMustAddUp) {
  const std::string tokens = copy("tokens");
  const std::string manifest = tokens + "/train/manifest.json";
  edit_json(manifest, [](nlohmann::json& j) { j["num_examples"] = 101; });
  auto r = run_pkd(finetune(tokens + "/train"));
  EXPECT_REFUSED(r, 1, "says num_examples = 101 but its shard entries add up to 100");
  // Consistent totals, but an entry that is not what its shard holds.
  edit_json(manifest, [](nlohmann::json& j) {
    j["num_examples"] = 101;
    j["shards"][2]["num_examples"] = 21;
    j["length_histogram"][10] = j["length_histogram"][10].get<int>() + 1;
  });
  r = run_pkd(finetune(tokens + "/train", "--verify metadata"));
  EXPECT_REFUSED(r, 1, "num_examples is 20, its manifest");
  edit_json(manifest, [](nlohmann::json& j) { j["shards"][0]["num_examples"] = 40.5; });
  r = run_pkd(finetune(tokens + "/train"));
  EXPECT_REFUSED(r, 1, "\"num_examples\" is 40.5, expected an integer");
  edit_json(manifest, [](nlohmann::json& j) {
    j["shards"][0]["num_examples"] = 40;
    j["shards"][0]["file"] = "../../escape.h5";
  });
  r = run_pkd(finetune(tokens + "/train"));
  EXPECT_REFUSED(r, 1, "shard 0 is '../../escape.h5', expected 'shard-00000.h5'");
}

TEST_F(Integrity, EveryFeatureShardIsCheckedNotJustTheFirst) {
  copy("tokens");
  const std::string features = copy("features");
  const std::string other = fixture() / "other-features/shard-00002.h5";
  fs::copy_file(other, features + "/shard-00002.h5", fs::copy_options::overwrite_existing);
  const std::string base = "distill --train " + (work_ / "tokens/train") + " --features " +
                           features + " --teacher " + teacher() +
                           " --student-layers 2 --max-steps 3 --batch-size 50 --output-dir " +
                           (work_ / "run");
  auto r = run_pkd(base);
  EXPECT_REFUSED(r, 1, "shard-00002.h5' has sha256 ");
  r = run_pkd(base + " --verify metadata");
  EXPECT_REFUSED(r, 1, "shard-00002.h5' was computed by another teacher");
}

TEST_F(Integrity, ResumeRefusesOtherTrainingData) {
  const std::string tokens = copy("tokens");
  ASSERT_EQ(run_pkd(finetune(tokens + "/train", "--checkpoint-every 1")).exit_code, 0);
  // Re-tokenized from other rows under the same path and settings.
  std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
  std::size_t from = 0, cut = 0;
  for (int lines = 0; lines < 201; ++lines) {
    if (lines == 101) from = cut;
    cut = train.find('\n', cut) + 1;
  }
  write_text(work_ / "data/train.tsv",
             train.substr(0, train.find('\n') + 1) + train.substr(from, cut - from));
  ASSERT_EQ(run_pkd("tokenize --task SST-2 --shard-size 40 --splits train --overwrite --data-dir " +
                    (work_ / "data") + " --vocab " + source_dir() + "/data/vocab/vocab.txt --out " +
                    tokens)
                .exit_code,
            0);
  auto r = run_pkd(finetune(tokens + "/train", "--checkpoint-every 1 --resume"));
  EXPECT_REFUSED(r, 2, "was trained on other inputs");
  EXPECT_NE(r.output.find("train: "), std::string::npos) << r.output;
}

TEST_F(Integrity, CheckpointPositionMustBeInsideTheRun) {
  const std::string tokens = copy("tokens");
  ASSERT_EQ(run_pkd(finetune(tokens + "/train", "--checkpoint-every 1")).exit_code, 0);
  const std::string state = work_ / "run/checkpoints/step-00000002/trainer_state.json";
  edit_json(state, [](nlohmann::json& j) { j["global_step"] = -3; });
  auto r = run_pkd(finetune(tokens + "/train", "--checkpoint-every 1 --resume"));
  EXPECT_REFUSED(r, 1, "\"global_step\" is -3, expected 0..");
  edit_json(state, [](nlohmann::json& j) {
    j["global_step"] = 2;
    j["epoch"] = 7;
  });
  r = run_pkd(finetune(tokens + "/train", "--checkpoint-every 1 --resume"));
  EXPECT_REFUSED(r, 2, "is at epoch 8 step 0 of a run of 3 epochs");
  write_text(work_ / "run/checkpoints/latest", "../../../etc\n");
  r = run_pkd(finetune(tokens + "/train", "--checkpoint-every 1 --resume"));
  EXPECT_REFUSED(r, 1, "expected \"step-NNNNNNNN\"");
}

TEST_F(Integrity, ModelVocabularyMustBeTheTokensVocabulary) {
  const std::string tokens = copy("tokens");
  const std::string model = work_ / "model";
  fs::copy(teacher(), model, fs::copy_options::recursive);
  // No vocab.txt: a warning naming what was not checked.
  auto r = run_pkd("eval --model " + model + " --tokens " + tokens + "/dev");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("has no vocab.txt: not checked"), std::string::npos) << r.output;
  std::string vocab = read_file(source_dir() + "/data/vocab/vocab.txt");
  write_text(model + "/vocab.txt", vocab);
  r = run_pkd("eval --model " + model + " --tokens " + tokens + "/dev");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("has no vocab.txt"), std::string::npos) << r.output;
  write_text(model + "/vocab.txt", vocab + "[extra]\n");
  r = run_pkd("eval --model " + model + " --tokens " + tokens + "/dev");
  EXPECT_REFUSED(r, 2, "has another vocabulary than tokens in");
  r = run_pkd("finetune --init " + model + " --train " + tokens + "/train --max-steps 1 " +
              "--output-dir " + (work_ / "run"));
  EXPECT_REFUSED(r, 2, "has another vocabulary than tokens in");
}

// A shard left by an interrupted run (no manifest yet) that does not read back is written again
// by the next run, with a warning naming it, rather than vouched for by the new manifest: by
// tokenize and by cache-teacher. The rewritten shards hold what the originals held.
TEST_F(Integrity, DamagedLeftoverShardsAreWrittenAgain) {
  const std::string tokens = copy("tokens");
  const std::string features = copy("features");
  auto truncate_half = [](const std::string& path) {
    const std::string bytes = read_file(path);
    write_text(path, bytes.substr(0, bytes.size() / 2));
  };
  remove_tree(tokens + "/train/manifest.json");
  truncate_half(tokens + "/train/shard-00001.h5");
  auto r = run_pkd("tokenize --task SST-2 --shard-size 40 --data-dir " + (fixture() / "data") +
                   " --vocab " + source_dir() + "/data/vocab/vocab.txt --out " + tokens);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("shard-00001.h5' is left from an earlier run but does not read back"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("shard-00000.h5' is left"), std::string::npos) << r.output;
  const auto rewritten = shards::read_token_shard(tokens + "/train/shard-00001.h5");
  const auto original = shards::read_token_shard(fixture() / "tokens/train/shard-00001.h5");
  EXPECT_EQ(rewritten.input_ids, original.input_ids);
  EXPECT_EQ(rewritten.example_ids, original.example_ids);

  remove_tree(features + "/manifest.json");
  truncate_half(features + "/shard-00002.h5");
  r = run_pkd("cache-teacher --model " + teacher() + " --tokens " + (fixture() / "tokens/train") +
              " --out " + features);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("shard-00002.h5' is left from an earlier run but does not read back"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("shard-00000.h5' is left"), std::string::npos) << r.output;
  EXPECT_EQ(shards::read_feature_shard(features + "/shard-00002.h5").logits,
            shards::read_feature_shard(fixture() / "features/shard-00002.h5").logits);
  // Both are whole again: training reads and verifies every shard.
  r = run_pkd(finetune(tokens + "/train"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_pkd("distill --train " + (fixture() / "tokens/train") + " --features " + features +
              " --teacher " + teacher() +
              " --student-layers 2 --max-steps 3 --batch-size 50 --output-dir " + (work_ / "run2"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// A full disk while writing shards: an error naming the file and the system's reason, exit 1 (no
// SIGSEGV in HDF5's clean-up), no temporary file and no manifest left. A real small tmpfs in a
// private mount namespace (root only); a file-size limit (EFBIG) everywhere.
TEST_F(Integrity, FullDiskIsAnErrorAndLeavesNothingHalfWritten) {
  const std::string small = work_ / "small";
  make_directories(small);
  const std::string tokenize = pkd_binary() + " tokenize --task SST-2 --data-dir " + source_dir() +
                               "/data/glue/SST-2 --vocab " + source_dir() +
                               "/data/vocab/vocab.txt --out " + small + "/tokens";
  auto no_leftovers = [&](const std::string& dir) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
      EXPECT_NE(e.path().filename(), "manifest.json") << e.path();
    }
  };
  if (run("unshare -m true 2>/dev/null").exit_code == 0) {
    auto r = run("unshare -m sh -c 'mount -t tmpfs -o size=300k tmpfs " + small + " && " +
                 tokenize + "; code=$?; echo FILES:; find " + small + " -type f; exit $code' 2>&1");
    EXPECT_REFUSED(r, 1, "No space left on device (errno 28)");
    EXPECT_NE(r.output.find("tokens/train/shard-00000.h5"), std::string::npos) << r.output;
    const std::string files = r.output.substr(r.output.find("FILES:"));
    EXPECT_EQ(files.find(".tmp."), std::string::npos) << files;
    EXPECT_EQ(files.find("manifest.json"), std::string::npos) << files;
  }
  // A file-size limit below a feature shard's size (~50 KB as float32).
  auto r = run("sh -c 'trap \"\" XFSZ; ulimit -f 16; exec " + pkd_binary() +
               " cache-teacher --dtype float32 --model " + teacher() + " --tokens " +
               (fixture() / "tokens/train") + " --out " + small + "/features' 2>&1");
  EXPECT_REFUSED(r, 1, "File too large");
  no_leftovers(small);
}

}  // namespace
}  // namespace pkd::test
