#include <gtest/gtest.h>

#include "core/strings.h"

namespace pkd {

TEST(Strings, EditDistance) {
  EXPECT_EQ(edit_distance("max_seq_len", "max_seq_length"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Strings, DidYouMeanSuggestsOnlyCloseCandidates) {
  EXPECT_EQ(did_you_mean("max_seq_len", {"max_seq_length", "shard_size"}),
            " (did you mean 'max_seq_length'?)");
  EXPECT_EQ(did_you_mean("zzzzzz", {"max_seq_length", "shard_size"}), "");
}

TEST(Strings, StrictNumberParsing) {
  std::int64_t i = 0;
  double d = 0;
  EXPECT_TRUE(parse_int64("128", i));
  EXPECT_EQ(i, 128);
  EXPECT_FALSE(parse_int64("12x", i));
  EXPECT_FALSE(parse_int64("", i));
  EXPECT_TRUE(parse_double("-2.5e-1", d));
  EXPECT_DOUBLE_EQ(d, -0.25);
  EXPECT_FALSE(parse_double("1.0.0", d));
}

TEST(Strings, QuotedShowsControlCharacters) {
  EXPECT_EQ(quoted("a\tb\x01"), "\"a\\tb\\x01\"");
}

}  // namespace pkd
