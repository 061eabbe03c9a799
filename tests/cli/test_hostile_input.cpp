// Hostile input through the real `pkd` binary (issue #14): model files, config.json, config
// values and flags that once crashed pkd (a stack overflow, an allocator abort), hung it, or were
// silently accepted. Every case must now end with a clear error, exit code 1 (bad input) or 2
// (usage), never a signal, and a message naming the file or key, what was found and what was
// expected. The files are made here, byte by byte, as an attacker would.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace pkd::test {
namespace {

namespace fs = std::filesystem;

// --- A stored zip archive as torch.save writes it ------------------------------------------

std::uint32_t crc32(const std::string& data) {
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

struct ZipRecord {
  std::string name;  // inside archive/
  std::string data;
  std::uint32_t claimed_size = 0;  // the size the directory states; 0 = the real size
};

// Records "archive/<name>", stored (uncompressed); `claimed_size` lets a record lie about its
// uncompressed size in the central directory, as a zip bomb does.
void write_zip(const std::string& path, const std::vector<ZipRecord>& records) {
  std::string out, dir;
  for (const auto& r : records) {
    const std::string name = "archive/" + r.name;
    const std::uint32_t crc = crc32(r.data);
    const std::uint64_t offset = out.size();
    put(out, 0x04034b50, 4);  // local header: version 2.0, no flags, stored, no date
    put(out, 20, 2);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, 0, 4);
    put(out, crc, 4);
    put(out, r.data.size(), 4);
    put(out, r.data.size(), 4);
    put(out, name.size(), 2);
    put(out, 0, 2);
    out += name + r.data;
    put(dir, 0x02014b50, 4);  // central directory entry
    put(dir, 20, 2);
    put(dir, 20, 2);
    put(dir, 0, 2);
    put(dir, 0, 2);
    put(dir, 0, 4);
    put(dir, crc, 4);
    put(dir, r.data.size(), 4);
    put(dir, r.claimed_size ? r.claimed_size : r.data.size(), 4);
    put(dir, name.size(), 2);
    put(dir, 0, 6);  // extra, comment, disk
    put(dir, 0, 6);  // attributes
    put(dir, offset, 4);
    dir += name;
  }
  const std::uint64_t dir_offset = out.size();
  out += dir;
  put(out, 0x06054b50, 4);  // end of central directory
  put(out, 0, 4);
  put(out, records.size(), 2);
  put(out, records.size(), 2);
  put(out, dir.size(), 4);
  put(out, dir_offset, 4);
  put(out, 0, 2);
  write_text(path, out);
}

// A pytorch_model.bin whose data.pkl is `pickle` (plus the records torch.save always writes).
void write_torch_bin(const std::string& path, const std::string& pickle,
                     std::vector<ZipRecord> more = {}) {
  std::vector<ZipRecord> records = {
      {"data.pkl", pickle}, {"byteorder", "little"}, {"version", "3\n"}};
  records.insert(records.end(), more.begin(), more.end());
  write_zip(path, records);
}

// --- Pickle opcodes (protocol 2) ---------------------------------------------------------------

std::string u32(std::uint32_t v) {
  std::string s;
  put(s, v, 4);
  return s;
}
std::string str(const std::string& s) {
  return "\x8c" + std::string(1, char(s.size())) + s;
}
std::string int32(std::int32_t v) {
  return "J" + u32(static_cast<std::uint32_t>(v));
}
const std::string kProto = "\x80\x02";

// {key: tensor of `sizes` and `strides` over a FloatStorage of `numel` elements}.
std::string state_dict_pickle(const std::string& key, std::int64_t numel,
                              const std::vector<std::int32_t>& sizes,
                              const std::vector<std::int32_t>& strides) {
  std::string p = kProto + "}(" + str(key) + "ctorch._utils\n_rebuild_tensor_v2\n(";
  p += "(" + str("storage") + "ctorch\nFloatStorage\n" + str("0") + str("cpu") +
       int32(static_cast<std::int32_t>(numel)) + "tQ";
  p += std::string("K\0", 2) + "(";  // storage offset 0, then the sizes
  for (auto s : sizes) p += int32(s);
  p += "t(";
  for (auto s : strides) p += int32(s);
  p += "t\x89"
       "ccollections\nOrderedDict\n)R"
       "tRu.";
  return p;
}

class HostileInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokens_dir_ = new TempDir;
    write_text(*tokens_dir_ / "data/train.tsv", "sentence\tlabel\ngood .\t1\nbad .\t0\n");
    write_text(*tokens_dir_ / "data/dev.tsv", "sentence\tlabel\nfine .\t1\nawful .\t0\n");
    auto r = run_pkd("tokenize --task SST-2 --data-dir " + (*tokens_dir_ / "data") + " --vocab " +
                     vocab() + " --out " + (*tokens_dir_ / "tokens"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete tokens_dir_;
    tokens_dir_ = nullptr;
  }
  static std::string vocab() { return source_dir() + "/data/vocab/vocab.txt"; }
  static std::string model() { return source_dir() + "/tests/data/bert/random-4L-64H"; }
  static std::string dev_tokens() { return *tokens_dir_ / "tokens/dev"; }

  // `pkd eval` of a model directory (config.json, then the weights, are read before any example).
  CommandResult eval(const std::string& model_dir) {
    return run_pkd("eval --model " + model_dir + " --tokens " + dev_tokens());
  }
  // A new model directory holding the test model's config.json with each `from` replaced by its
  // `to`, and no weights.
  std::string model_dir(const std::vector<std::pair<std::string, std::string>>& edits = {}) {
    const std::string dir = dir_ / ("model" + std::to_string(models_++));
    std::ifstream in(model() + "/config.json");
    std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& [from, to] : edits) {
      const auto at = config.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      if (at != std::string::npos) config.replace(at, from.size(), to);
    }
    write_text(dir + "/config.json", config);
    return dir;
  }
  std::string model_dir(const std::string& from, const std::string& to) {
    return model_dir({{from, to}});
  }
  void expect_failure(const CommandResult& r, int code, const std::string& fragment) {
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << "expected '" << fragment << "' in:\n"
                                                          << r.output;
  }
  CommandResult tokenize(const std::string& data_dir, const std::string& extra) {
    return run_pkd("tokenize --task SST-2 --data-dir " + data_dir + " --vocab " + vocab() +
                   " --out " + (dir_ / "out") + " " + extra);
  }

  static TempDir* tokens_dir_;
  TempDir dir_;
  int models_ = 0;
};
TempDir* HostileInput::tokens_dir_ = nullptr;

// --- pytorch_model.bin ---------------------------------------------------------------------

TEST_F(HostileInput, DeeplyNestedPickleIsRefusedNotAStackOverflow) {
  const std::string dir = model_dir();
  // A tuple nested a million deep: destroying it recursed a million frames (signal 11).
  write_torch_bin(dir + "/pytorch_model.bin", kProto + ")" + std::string(1000000, '\x85') + ".");
  auto r = eval(dir);
  expect_failure(r, 1, "pytorch_model.bin' is not a readable torch.save state dict");
  EXPECT_NE(r.output.find("nested more than 1000 deep"), std::string::npos) << r.output;
}

TEST_F(HostileInput, ListsNestedThroughTheMemoAreRefused) {
  // 200000 lists on the stack, each memoised; then list i is appended into list i - 1 for
  // descending i (each built before it is nested: the depth grows one per append) ...
  const int n = 200000;
  std::string lists;
  for (int i = 0; i < n; ++i) lists += "]r" + u32(static_cast<std::uint32_t>(i));
  std::string descending = kProto + lists, ascending = kProto + lists;
  for (int i = n - 1; i >= 1; --i)
    descending += "j" + u32(static_cast<std::uint32_t>(i - 1)) + "j" + u32(i) + "a";
  // ... or ascending i: list i grows after it was put inside list i - 1, so a depth recorded
  // per object would go stale (the chain is as deep, yet each append sees depth 2).
  for (int i = 1; i < n; ++i)
    ascending += "j" + u32(static_cast<std::uint32_t>(i - 1)) + "j" + u32(i) + "a";
  const std::string dir = model_dir();
  write_torch_bin(dir + "/pytorch_model.bin", descending + ".");
  expect_failure(eval(dir), 1, "objects are nested more than 1000 deep");
  write_torch_bin(dir + "/pytorch_model.bin", ascending + ".");
  expect_failure(eval(dir), 1, "is modified after it was put inside another object");
  // A list appended to itself.
  write_torch_bin(dir + "/pytorch_model.bin", kProto + "]r" + u32(0) + "j" + u32(0) + "a.");
  expect_failure(eval(dir), 1, "or contains itself");
}

TEST_F(HostileInput, TorchBinRecordLargerThanTheArchiveIsRefused) {
  const std::string dir = model_dir();
  // The directory claims 4 GiB for a 4-byte record: LibTorch would allocate the claim.
  write_torch_bin(dir + "/pytorch_model.bin", state_dict_pickle("w", 1, {1}, {1}),
                  {{"data/0", std::string(4, '\0'), 0xfffffff0u}});
  expect_failure(eval(dir), 1, "record 'archive/data/0' claims 4294967280 bytes, more than the");
}

TEST_F(HostileInput, TorchBinViewLargerThanItsStorageIsRefused) {
  const std::string dir = model_dir();
  // One float expanded (stride 0) to 2^17 x 2^17: copying it would take 64 GiB.
  write_torch_bin(dir + "/pytorch_model.bin",
                  state_dict_pickle("bert.pooler.dense.weight", 1, {131072, 131072}, {0, 0}),
                  {{"data/0", std::string(4, '\0')}});
  expect_failure(eval(dir), 1, "does not fit in its storage of 1 elements");
}

// --- config.json -----------------------------------------------------------------------------

TEST_F(HostileInput, ConfigJsonHugeSizesAreRefusedBeforeAllocating) {
  expect_failure(eval(model_dir("\"max_position_embeddings\": 512",
                                "\"max_position_embeddings\": 1099511627776")),
                 1,
                 "config.json': key 'max_position_embeddings' must be in 1..1048576 (2^20 "
                 "positions), found 1099511627776");
  expect_failure(eval(model_dir("\"vocab_size\": 30522", "\"vocab_size\": 4194305")), 1,
                 "key 'vocab_size' must be in 1..4194304");
  expect_failure(eval(model_dir("\"id2label\": {", "\"num_labels\": 1099511627776, \"x\": {")), 1,
                 "key 'num_labels' must be in 1..65536");
  // Within every bound but too large together: 2^22 x 2^16 embeddings alone are 2^38.
  expect_failure(eval(model_dir({{"\"vocab_size\": 30522", "\"vocab_size\": 4194304"},
                                 {"\"hidden_size\": 64", "\"hidden_size\": 65536"}})),
                 1, "parameters; pkd refuses more than 2^33");
}

TEST_F(HostileInput, ConfigJsonValuesMustHaveTheirExactType) {
  expect_failure(eval(model_dir("\"hidden_size\": 64", "\"hidden_size\": 64.5")), 1,
                 "config.json': key 'hidden_size' has a value of the wrong type: expected an "
                 "integer, found 64.5");
  expect_failure(
      eval(model_dir("\"hidden_size\": 64", "\"hidden_size\": true")), 1,
      "key 'hidden_size' has a value of the wrong type: expected an integer, found true");
  expect_failure(
      eval(model_dir("\"num_hidden_layers\": 4", "\"num_hidden_layers\": \"4\"")), 1,
      "key 'num_hidden_layers' has a value of the wrong type: expected an integer, found \"4\"");
  expect_failure(eval(model_dir("\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": -1")), 1,
                 "key 'layer_norm_eps' must be in (0, 1], found -1");
  expect_failure(eval(model_dir("\"hidden_dropout_prob\": 0.1", "\"hidden_dropout_prob\": 1.5")), 1,
                 "key 'hidden_dropout_prob' must be in [0, 1), found 1.5");
  // A deeply nested value: the message describes it without printing it (recursively).
  expect_failure(
      eval(model_dir("\"hidden_size\": 64",
                     "\"hidden_size\": " + std::string(200000, '[') + std::string(200000, ']'))),
      1,
      "key 'hidden_size' has a value of the wrong type: expected an integer, found an array of 1");
}

// --- model.safetensors -------------------------------------------------------------------------

std::string safetensors(const std::string& header, std::size_t data_bytes) {
  std::string out;
  put(out, header.size(), 8);
  return out + header + std::string(data_bytes, '\0');
}

TEST_F(HostileInput, SafetensorsSizesAreCheckedAgainstTheFile) {
  const std::string dir = model_dir();
  const std::string file = dir + "/model.safetensors";
  std::string header_lie;
  put(header_lie, 1ull << 40, 8);  // a 1 TiB header in a 16-byte file
  write_text(file, header_lie + "{}      ");
  expect_failure(eval(dir), 1, "its header claims 1099511627776 bytes but the file has 8");
  // 2^62 x 4 F32 elements: the byte count overflows 64 bits.
  write_text(file, safetensors(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],)"
                               R"("data_offsets":[0,0]}})",
                               0));
  expect_failure(eval(dir), 1, "needs more bytes than the 0-byte data section holds");
  write_text(file, safetensors(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4));
  expect_failure(eval(dir), 1, "shape has a dimension that is not an integer in 0..2^63-1");
  write_text(file,
             safetensors(R"({"w":{"dtype":"F32","shape":[[[[1]]]],"data_offsets":[0,4]}})", 4));
  expect_failure(eval(dir), 1, "(found array)");
  // An empty tensor between two that overlap hides the overlap from a neighbours-only check.
  write_text(file, safetensors(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                               R"("b":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                               R"("c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                               16));
  expect_failure(eval(dir), 1, "tensors 'a' and 'c' overlap in the data section");
}

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
