// Bounds and exact types of input values (issue #14), in-process: the config reader's finite and
// integer checks, config.json's bounds, split names and custom columns. The same cases through
// the real binary, with real files: tests/cli/test_hostile_input.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "config/document.h"
#include "glue/custom_task.h"
#include "glue/tasks.h"
#include "model/bert_config.h"
#include "preprocess/tokenize_config.h"
#include "support/test_support.h"
#include "sweep/sweep_config.h"

namespace pkd {
namespace {

using config::Document;

struct Numbers {
  double rate = 0.5;
  std::int64_t count = 3;
  config::ColumnRef column;
  template <class V>
  void visit(V& v) {
    v.field("rate", rate, "a number");
    v.field("count", count, "an integer");
    v.field("column", column, "a column");
  }
};

std::string read_error(const std::string& toml) {
  Document d = Document::from_string(toml, "n.toml");
  Numbers n;
  return test::error_of<UsageError>([&] { d.read("t", n); });
}

TEST(InputBounds, ConfigNumbersMustBeFinite) {
  for (const char* value : {"nan", "+nan", "-nan", "inf", "-inf"}) {
    const std::string e = read_error(std::string("[t]\nrate = ") + value + "\n");
    EXPECT_NE(e.find("n.toml:2: [error] config key 't.rate' must be a finite number, found "
                     "floating"),
              std::string::npos)
        << e;
  }
  // From --set and from flags (set_raw), without a file position.
  for (const std::string kind : {"auto", "float"}) {
    Document d;
    if (kind == "auto")
      d.set("t.rate=nan");
    else
      d.set_raw("t.rate", "inf", "float");
    Numbers n;
    const std::string e = test::error_of<UsageError>([&] { d.read("t", n); });
    EXPECT_EQ(e.rfind("[error] config key 't.rate' must be a finite number, found floating ", 0), 0)
        << e;
  }
  EXPECT_EQ(read_error("[t]\nrate = 1e308\ncount = 7\n"), "(no error)");
}

TEST(InputBounds, ConfigIntegersMustBeIntegers) {
  EXPECT_NE(
      read_error("[t]\ncount = 2.5\n")
          .find("n.toml:2: [error] config key 't.count' must be an integer, found floating 2.5"),
      std::string::npos);
  EXPECT_NE(read_error("[t]\ncount = true\n").find("must be an integer, found boolean true"),
            std::string::npos);
  EXPECT_NE(read_error("[t]\ncount = 2.0\n").find("must be an integer"), std::string::npos);
}

TEST(InputBounds, NegativeColumnNamesTheKeyNotAnUnknownFile) {
  Document d;
  d.set_raw("t.column", "-1", "column");  // what --column -1 does
  Numbers n;
  const std::string e = test::error_of<UsageError>([&] { d.read("t", n); });
  EXPECT_EQ(e,
            "[error] config key 't.column' must be a 0-based column index (0..1048576) or a header "
            "name, found integer -1");
  // Beyond 2^20 columns (the TSV reader counts them in an int: 99999999999 became 1215752191).
  Document big;
  big.set_raw("t.column", "99999999999", "column");
  EXPECT_NE(test::error_of<UsageError>([&] { big.read("t", n); }).find("found integer 99999999999"),
            std::string::npos);
}

model::BertConfig parse(const std::string& body) {
  return model::BertConfig::from_json("{" + body + "}", "'c.json'");
}
std::string json_error(const std::string& body) {
  return test::error_of([&] { parse(body); });
}

TEST(InputBounds, BertConfigIntegersAreExactAndBounded) {
  EXPECT_EQ(parse("\"hidden_size\": 64, \"num_attention_heads\": 4").hidden_size, 64);
  EXPECT_EQ(
      json_error("\"hidden_size\": 64.5"),
      "'c.json': key 'hidden_size' has a value of the wrong type: expected an integer, found 64.5");
  EXPECT_EQ(
      json_error("\"hidden_size\": 64.0"),
      "'c.json': key 'hidden_size' has a value of the wrong type: expected an integer, found 64.0");
  EXPECT_EQ(
      json_error("\"vocab_size\": false"),
      "'c.json': key 'vocab_size' has a value of the wrong type: expected an integer, found false");
  EXPECT_EQ(json_error("\"vocab_size\": 18446744073709551615"),
            "'c.json': key 'vocab_size' must be an integer below 2^63, found 18446744073709551615");
  EXPECT_EQ(json_error("\"max_position_embeddings\": 1099511627776"),
            "'c.json': key 'max_position_embeddings' must be in 1..1048576 (2^20 positions), "
            "found 1099511627776");
  EXPECT_EQ(json_error("\"type_vocab_size\": 0"),
            "'c.json': key 'type_vocab_size' must be in 1..1024 (2^10 segment types), found 0");
  EXPECT_EQ(json_error("\"num_hidden_layers\": 1025"),
            "'c.json': key 'num_hidden_layers' must be in 1..1024 (1024 layers), found 1025");
  EXPECT_EQ(json_error("\"num_labels\": 70000"),
            "'c.json': key 'num_labels' must be in 1..65536 (2^16 labels), found 70000");
  EXPECT_EQ(json_error("\"intermediate_size\": 262145"),
            "'c.json': key 'intermediate_size' must be in 1..262144 (2^18), found 262145");
  EXPECT_EQ(json_error("\"hidden_size\": 100, \"num_attention_heads\": 3"),
            "'c.json': hidden_size 100 is not a multiple of num_attention_heads 3");
  // Every key within its bound, the whole too large: 24 layers of hidden 2^16, FFN 2^18.
  EXPECT_NE(json_error("\"hidden_size\": 65536, \"intermediate_size\": 262144, "
                       "\"num_hidden_layers\": 24, \"num_attention_heads\": 16")
                .find("parameters; pkd refuses more than 2^33"),
            std::string::npos);
}

TEST(InputBounds, BertConfigFloatsAreFiniteAndInRange) {
  // JSON has no NaN or infinity, and nlohmann refuses a number that overflows a double.
  EXPECT_NE(json_error("\"layer_norm_eps\": 1e999").find("number overflow parsing '1e999'"),
            std::string::npos);
  EXPECT_EQ(json_error("\"layer_norm_eps\": 0"),
            "'c.json': key 'layer_norm_eps' must be in (0, 1], found 0");
  EXPECT_EQ(json_error("\"attention_probs_dropout_prob\": -0.1"),
            "'c.json': key 'attention_probs_dropout_prob' must be in [0, 1), found -0.1");
  EXPECT_EQ(json_error("\"classifier_dropout\": 1"),
            "'c.json': key 'classifier_dropout' must be in [0, 1), found 1");
  EXPECT_EQ(json_error("\"initializer_range\": \"0.02\""),
            "'c.json': key 'initializer_range' has a value of the wrong type: expected a number, "
            "found \"0.02\"");
  EXPECT_EQ(parse("\"classifier_dropout\": null").classifier_dropout, -1);
  // A config built in code (random init) with NaN is refused too.
  model::BertConfig c;
  c.hidden_dropout_prob = std::nan("");
  EXPECT_NE(
      test::error_of([&] { c.validate("x"); }).find("'hidden_dropout_prob' must be in [0, 1)"),
      std::string::npos);
}

TEST(InputBounds, SplitNamesArePlainNames) {
  for (const char* good : {"train", "dev_matched", "test-2", "a.b", "..a", "v1.0"})
    EXPECT_TRUE(glue::is_plain_name(good)) << good;
  for (const char* bad : {"", ".", "..", "a/b", "/abs", "a b", "tab\t", "é", "a\\b"})
    EXPECT_FALSE(glue::is_plain_name(bad)) << bad;
  EXPECT_FALSE(glue::is_plain_name(std::string(101, 'a')));
  EXPECT_EQ(test::error_of<UsageError>([] { glue::check_split_name("x\n", "k"); }),
            "k: split name 'x\\x0a' is not a plain name: it becomes the output directory "
            "OUT/<split>/, so it must be 1 to 100 characters of A-Z a-z 0-9 . _ - and not '.' or "
            "'..'");
}

TEST(InputBounds, TokenizeConfigBounds) {
  preprocess::TokenizeConfig c;
  c.task = "SST-2";
  c.data_dir = c.vocab = c.out = "x";
  c.validate();
  c.max_seq_length = 8193;
  EXPECT_NE(test::error_of<UsageError>([&] {
              c.validate();
            }).find("tokenize.max_seq_length must be in 3..8192 tokens"),
            std::string::npos);
  c.max_seq_length = 128;
  c.shard_size = (std::int64_t{1} << 24) + 1;
  EXPECT_NE(test::error_of<UsageError>([&] {
              c.validate();
            }).find("tokenize.shard_size must be in 1..16777216 examples"),
            std::string::npos);
  c.shard_size = 8;
  c.splits = {"train", ".."};
  EXPECT_NE(test::error_of<UsageError>([&] {
              c.validate();
            }).find("tokenize.splits: split name '..' is not a plain name"),
            std::string::npos);
}

TEST(InputBounds, CustomTextColumnIsNotTheLabelColumn) {
  glue::CustomTaskConfig c;
  c.labels = {"0", "1"};
  c.text_a = {1, ""};
  c.label = {1, ""};
  EXPECT_NE(test::error_of<UsageError>([&] {
              c.to_task({"train"});
            }).find("tokenize.custom.text_a and tokenize.custom.label are the same column 1"),
            std::string::npos);
  c.text_a = {0, ""};
  c.text_b = {-1, "stars"};
  c.label = {-1, "stars"};
  EXPECT_NE(test::error_of<UsageError>([&] { c.to_task({"train"}); })
                .find("tokenize.custom.text_b and tokenize.custom.label are the same column "
                      "'stars'"),
            std::string::npos);
  // An unlabeled split reads no label: the (default) label column may be a text there.
  EXPECT_EQ(c.to_task({"test"}).splits.size(), 1u);
  c.text_b = {};
  EXPECT_EQ(c.to_task({"train"}).splits.size(), 1u);
}

TEST(InputBounds, SweepCpusPerTaskFitTheThreadCap) {
  sweep::StageResources r;
  r.cpus_per_task = 1024;
  r.validate("s");
  r.cpus_per_task = 100000;
  EXPECT_EQ(test::error_of<UsageError>([&] { r.validate("s"); }),
            "s.cpus_per_task must be in 1..1024 (it becomes runtime.intra_op_threads), got 100000");
}

}  // namespace
}  // namespace pkd
