// `pkd distill` refuses what it must not train on, with messages naming what differs: features
// of another teacher or another token split, an impossible layer map, a missing cache.
#include <gtest/gtest.h>

#include "core/fs.h"
#include "support/test_support.h"

namespace pkd::test {
namespace {

TEST(Distill, RefusesMismatchedFeaturesAndImpossibleMaps) {
  TempDir dir;
  const std::string teacher = source_dir() + "/tests/data/bert/random-4L-64H";
  std::string train = read_file(source_dir() + "/data/glue/SST-2/train.tsv");
  std::size_t cut = 0;
  for (int lines = 0; lines < 101; ++lines) cut = train.find('\n', cut) + 1;
  write_text(dir / "data/train.tsv", train.substr(0, cut));
  write_text(dir / "data/dev.tsv", train.substr(0, cut));
  ASSERT_EQ(run_pkd("tokenize --task SST-2 --data-dir " + (dir / "data") + " --vocab " +
                    source_dir() + "/data/vocab/vocab.txt --out " + (dir / "tokens"))
                .exit_code,
            0);
  for (const char* split : {"train", "dev"})
    ASSERT_EQ(run_pkd("cache-teacher --model " + teacher + " --tokens " + (dir / "tokens/") +
                      split + " --out " + (dir / "features/") + split)
                  .exit_code,
              0);
  // Another teacher: the same architecture trained one step.
  ASSERT_EQ(run_pkd("finetune --init " + teacher + " --train " + (dir / "tokens/train") +
                    " --max-steps 1 --output-dir " + (dir / "other"))
                .exit_code,
            0);
  const std::string base = "distill --train " + (dir / "tokens/train") + " --student-layers 2" +
                           " --max-steps 1 --output-dir " + (dir / "out");
  auto r = run_pkd(base + " --teacher " + (dir / "other/model") + " --features " +
                   (dir / "features/train"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("were computed by teacher"), std::string::npos) << r.output;
  r = run_pkd(base + " --teacher " + teacher + " --features " + (dir / "features/dev"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("do not belong to token split"), std::string::npos) << r.output;
  r = run_pkd(base + " --teacher " + teacher + " --features " + (dir / "features/train") +
              " --student-layers 6");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("6-layer student cannot learn from a 4-layer teacher"), std::string::npos)
      << r.output;
  r = run_pkd(base + " --teacher " + teacher);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("distill.features is required"), std::string::npos) << r.output;
  r = run_pkd(base + " --teacher " + teacher + " --features " + (dir / "features/train") +
              " --alpah 0.5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("did you mean 'alpha'"), std::string::npos) << r.output;
  // alpha = beta = 0: the fine-tuning baseline needs no features.
  r = run_pkd(base + " --teacher " + teacher + " --alpha 0 --beta 0");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace pkd::test
