// Configuration readers: HuggingFace config.json (src/model/bert_config.*) and pkd's TOML configs
// (src/config/) read into the real config structs. The first byte picks the mode:
//   0: the rest is a config.json -> BertConfig::from_json; round trip through to_json().
//   1: the rest is a TOML document -> config::Document::from_string, check_tables, then the
//      [tokenize], [finetune], [distill], [optimizer], [sweep] and [report] tables read into
//      their structs (as pkd's commands do), the torch-free validate()s run, and each table
//      written back with to_toml and re-read gives the same TOML (the effective config saved
//      beside every output must read back as itself).
//   2: the rest is lines of `--set KEY=VALUE` assignments applied to an empty document, then
//      read as in mode 1.
#include <cstdint>
#include <string>
#include <vector>

#include "config/document.h"
#include "core/strings.h"
#include "distill/distill_config.h"
#include "fuzz_common.h"
#include "model/bert_config.h"
#include "preprocess/tokenize_config.h"
#include "report/report_config.h"
#include "sweep/sweep_config.h"
#include "text/utf8.h"
#include "train/finetune_config.h"
#include "train/optimizer_config.h"

using namespace pkd;
using pkd::fuzz::Input;

namespace {

const std::vector<std::string> kTables = {"tokenize", "finetune", "distill", "optimizer",
                                          "runtime",  "parallel", "sweep",   "report",
                                          "cache",    "inspect"};

void fuzz_bert_config(std::string_view text) {
  const std::string origin = "'fuzz/config.json'";
  model::BertConfig c;
  if (!fuzz::expect_ok_or_error(
          origin, [&] { c = model::BertConfig::from_json(std::string(text), origin); }))
    return;
  fuzz::expect_ok_or_error("", [&] { c.validate(origin); });
  std::string json;
  fuzz::expect_ok_or_error("", [&] { json = c.to_json(); });
  PKD_FUZZ_CHECK(!json.empty(), "to_json() of a config that was read failed");
  model::BertConfig again;
  const bool ok = fuzz::expect_ok_or_error(
      "", [&] { again = model::BertConfig::from_json(json, "'round trip'"); });
  PKD_FUZZ_CHECK(ok, "config.json written by to_json() does not read back:\n" + json);
  PKD_FUZZ_CHECK(again.to_json() == json,
                 "config.json round trip differs:\n" + json + "\n" + again.to_json());
}

// Reads `table` into a fresh T, writes it back, re-reads that and compares the TOML texts.
template <class T, class Validate>
void round_trip(const config::Document& doc, const char* table, Validate validate) {
  T value;
  if (!fuzz::expect_ok_or_error("", [&] { doc.read(table, value); })) return;
  fuzz::expect_ok_or_error("", [&] { validate(value); });
  std::string text;
  fuzz::expect_ok_or_error("", [&] { text = config::to_toml(table, value); });
  config::Document again;
  PKD_FUZZ_CHECK(fuzz::expect_ok_or_error(
                     "", [&] { again = config::Document::from_string(text, "round trip"); }),
                 std::string("to_toml output does not parse:\n") + text);
  T reread;
  PKD_FUZZ_CHECK(fuzz::expect_ok_or_error("", [&] { again.read(table, reread); }),
                 std::string("to_toml output does not read back:\n") + text);
  std::string text2 = config::to_toml(table, reread);
  PKD_FUZZ_CHECK(text2 == text, "TOML round trip differs:\n" + text + "\n---\n" + text2);
}

void read_all(const config::Document& doc) {
  fuzz::expect_ok_or_error("", [&] { doc.check_tables(kTables); });
  round_trip<preprocess::TokenizeConfig>(doc, "tokenize", [](auto& c) { c.validate(); });
  round_trip<train::FinetuneConfig>(doc, "finetune", [](auto&) {});
  round_trip<distill::DistillConfig>(doc, "distill", [](auto&) {});
  round_trip<train::OptimizerConfig>(doc, "optimizer", [](auto&) {});
  round_trip<sweep::SweepConfig>(doc, "sweep", [](auto& c) { c.validate(); });
  round_trip<report::ReportConfig>(doc, "report", [](auto& c) { c.validate(); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in{data, size};
  const int mode = in.byte() % 3;
  const std::string text(in.rest());
  if (mode == 0) {
    fuzz_bert_config(text);
  } else if (mode == 1) {
    config::Document doc;
    if (fuzz::expect_ok_or_error("fuzz.toml",
                                 [&] { doc = config::Document::from_string(text, "fuzz.toml"); }))
      read_all(doc);
  } else {
    config::Document doc;
    for (const auto& line : split(text, '\n')) {
      fuzz::expect_ok_or_error("", [&] { doc.set(std::string(line)); });
    }
    read_all(doc);
  }
  return 0;
}
