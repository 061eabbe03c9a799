#include <gtest/gtest.h>

#include "config/document.h"
#include "config/flags.h"
#include "config/identity.h"
#include "config/keys.h"
#include "core/error.h"
#include "distill/distill_config.h"
#include "preprocess/tokenize_config.h"
#include "support/test_support.h"
#include "train/optimizer_config.h"

namespace pkd::config {
namespace {

TEST(Config, ReadsTypedValuesAndKeepsDefaults) {
  Document d = Document::from_string(
      "[tokenize]\ntask = \"RTE\"\nmax_seq_length = 64\n[tokenize.custom]\ntext_b = \"q\"\n",
      "t.toml");
  preprocess::TokenizeConfig c;
  d.read("tokenize", c);
  EXPECT_EQ(c.task, "RTE");
  EXPECT_EQ(c.max_seq_length, 64);
  EXPECT_EQ(c.shard_size, 8192);
  EXPECT_EQ(c.custom.text_b.name, "q");
}

TEST(Config, UnknownKeyIsAnErrorWithSuggestionAndLocation) {
  Document d = Document::from_string("[tokenize]\nmax_seq_len = 64\n", "typo.toml");
  preprocess::TokenizeConfig c;
  std::string msg = test::error_of<UsageError>([&] { d.read("tokenize", c); });
  EXPECT_NE(msg.find("unknown config key 'tokenize.max_seq_len'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'max_seq_length'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("typo.toml:2"), std::string::npos) << msg;
}

TEST(Config, UnknownNestedKeyAndTable) {
  Document d = Document::from_string("[tokenize.custom]\nlabell = 3\n", "t.toml");
  preprocess::TokenizeConfig c;
  EXPECT_NE(test::error_of<UsageError>([&] { d.read("tokenize", c); }).find("did you mean 'label'"),
            std::string::npos);
  Document d2 = Document::from_string("[tokenise]\ntask = \"x\"\n", "t.toml");
  EXPECT_NE(test::error_of<UsageError>([&] {
              d2.check_tables({"tokenize"});
            }).find("did you mean 'tokenize'"),
            std::string::npos);
}

TEST(Config, TypeErrorsNameTheKey) {
  Document d = Document::from_string("[tokenize]\nmax_seq_length = \"long\"\n", "t.toml");
  preprocess::TokenizeConfig c;
  std::string msg = test::error_of<UsageError>([&] { d.read("tokenize", c); });
  EXPECT_NE(msg.find("'tokenize.max_seq_length' must be an integer"), std::string::npos) << msg;
}

TEST(Config, SyntaxErrorsAreUsageErrors) {
  EXPECT_THROW(Document::from_string("[tokenize\n", "bad.toml"), UsageError);
}

TEST(Config, SetOverridesParseTomlOrFallBackToStrings) {
  Document d = Document::from_string("[tokenize]\nmax_seq_length = 64\n", "t.toml");
  d.set("tokenize.max_seq_length=32");
  d.set("tokenize.task=SST-2");
  d.set("tokenize.splits=[\"dev\"]");
  d.set("tokenize.lowercase=false");
  preprocess::TokenizeConfig c;
  d.read("tokenize", c);
  EXPECT_EQ(c.max_seq_length, 32);
  EXPECT_EQ(c.task, "SST-2");
  EXPECT_EQ(c.splits, std::vector<std::string>{"dev"});
  EXPECT_FALSE(c.lowercase);
  EXPECT_THROW(d.set("no_equals_sign"), UsageError);
}

TEST(Config, EffectiveConfigRoundTrips) {
  preprocess::TokenizeConfig c;
  c.task = "custom";
  c.splits = {"a", "b"};
  c.custom.text_b.name = "second \"quoted\"";
  c.custom.label.index = 7;
  std::string text = to_toml("tokenize", c);
  preprocess::TokenizeConfig back;
  Document::from_string(text, "effective.toml").read("tokenize", back);
  EXPECT_EQ(to_toml("tokenize", back), text);
  EXPECT_EQ(back.custom.label.index, 7);
  EXPECT_EQ(back.custom.text_b.name, "second \"quoted\"");
}

TEST(Config, FlagsAreDerivedFromFields) {
  preprocess::TokenizeConfig c;
  auto flags = flags_of("tokenize", c);
  bool found = false;
  for (const auto& f : flags)
    if (f.flag == "max-seq-length") {
      found = true;
      EXPECT_EQ(f.dotted_key, "tokenize.max_seq_length");
      EXPECT_EQ(f.kind, "int");
    }
  EXPECT_TRUE(found);
}

// Keys come from the structs' own visit() lists: no re-spelled "distill.loss.alpha".
TEST(ConfigKeys, KeyOfNamesTheFieldByItsVisitList) {
  distill::DistillConfig d;
  EXPECT_EQ(key_of("distill", d, d.loss.alpha), "distill.loss.alpha");
  EXPECT_EQ(key_of("distill", d, d.loop.seed), "distill.seed");  // the loop's keys sit in [distill]
  train::OptimizerConfig o;
  EXPECT_EQ(key_of("optimizer", o, o.warmup_steps), "optimizer.warmup_steps");
  double elsewhere = 0;
  EXPECT_THROW(key_of("distill", d, elsewhere), Error);
}

// A saved config means its settings: comments, spacing, order and number spelling do not
// count; a key the checkpoint lacks counts at its default; run-control keys are ignored.
TEST(ConfigIdentity, SettingsNotTextAndDefaultsForNewKeys) {
  const std::string saved =
      "# Effective configuration, written by an older pkd\n[distill]\n# the teacher\n"
      "teacher = \"t\"\nresume = false\n[distill.loss]\nalpha = 0.5  # old help text\n"
      "[optimizer]\nlearning_rate = 2e-5\n";
  const std::string current =
      "[optimizer]\nlearning_rate = 0.00002\nschedule = \"linear\"\n# reworded help\n"
      "[distill]\nteacher = \"t\"\nresume = true\n[distill.loss]\nalpha = 5e-1\n";
  const std::string defaults = "[optimizer]\nschedule = \"linear\"\n";
  const std::set<std::string> ignored = {"distill.resume"};
  const auto a = settings_of(saved, "saved"), b = settings_of(current, "current");
  EXPECT_EQ(a.at("distill.loss.alpha"), b.at("distill.loss.alpha"));
  EXPECT_TRUE(differences(a, b, settings_of(defaults, "defaults"), ignored).empty());
  EXPECT_EQ(identity_text(a, ignored),
            "distill.loss.alpha = 0.5\ndistill.teacher = \"t\"\noptimizer.learning_rate = "
            "2.0000000000000002e-05\n");
  // A changed value, and a new key away from its default, are named.
  auto changed = b;
  changed["distill.loss.alpha"] = "0.69999999999999996";
  changed["optimizer.schedule"] = "\"constant\"";
  const auto diff = differences(a, changed, settings_of(defaults, "defaults"), ignored);
  ASSERT_EQ(diff.size(), 2u);
  EXPECT_EQ(diff[0], "distill.loss.alpha: checkpoint 0.5, now 0.69999999999999996");
  EXPECT_EQ(diff[1], "optimizer.schedule: checkpoint \"linear\" (default), now \"constant\"");
  EXPECT_THROW(settings_of("[distill\n", "broken.toml"), UsageError);
}

}  // namespace
}  // namespace pkd::config
