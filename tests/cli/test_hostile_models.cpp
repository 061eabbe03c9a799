// Hostile model files through the real `pkd` binary (issue #14): pytorch_model.bin (zip and
// pickle), config.json and model.safetensors that once crashed pkd (a stack overflow, an allocator
// abort) or were silently accepted. Every case must end with a clear error, exit code 1 (bad
// input) or 2 (usage), never a signal, and a message naming the file, what was found and what was
// expected. The files are made here, byte by byte, as an attacker would.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cli/hostile_input.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

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

}  // namespace
}  // namespace pkd::test
