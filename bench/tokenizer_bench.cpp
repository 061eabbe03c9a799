// Tokenizer throughput, one thread: every sentence of a TSV column encoded as [CLS] text [SEP]
// (no truncation needed for SST-2). Prints tokens/s (best of N passes) and a checksum of all ids
// so the driver can prove the reference produced the same ids.
// Usage: pkd_bench_tokenizer VOCAB.txt FILE.tsv COLUMN [PASSES]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "text/sequence_encoder.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s VOCAB.txt FILE.tsv COLUMN [PASSES]\n", argv[0]);
    return 2;
  }
  try {
    using namespace pkd;
    text::BertTokenizer tokenizer(text::Vocab::load(argv[1]), {});
    text::SequenceEncoder encoder(tokenizer, 100000);
    const int column = std::atoi(argv[3]);
    const int passes = argc > 4 ? std::atoi(argv[4]) : 5;
    std::vector<std::string> texts;
    auto lines = split(read_file(argv[2]), '\n');
    for (std::size_t i = 1; i < lines.size(); ++i)  // skip the header
      if (!lines[i].empty())
        texts.push_back(split(lines[i], '\t').at(static_cast<std::size_t>(column)));

    double best = 1e30;
    std::uint64_t tokens = 0, checksum = 0;
    text::EncodedExample e;
    for (int pass = 0; pass < passes; ++pass) {
      tokens = 0;
      checksum = 0;
      auto start = std::chrono::steady_clock::now();
      for (const auto& t : texts) {
        encoder.encode(t, std::nullopt, e);
        tokens += e.input_ids.size();
        for (std::int32_t id : e.input_ids)
          checksum = checksum * 1000003u + static_cast<std::uint64_t>(id);
      }
      best = std::min(
          best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf(
        "{\"sentences\": %zu, \"tokens\": %llu, \"seconds\": %.6f, \"tokens_per_s\": %.0f, "
        "\"checksum\": \"%llu\"}\n",
        texts.size(), static_cast<unsigned long long>(tokens), best,
        static_cast<double>(tokens) / best, static_cast<unsigned long long>(checksum));
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "error: %s\n", ex.what());
    return 1;
  }
  return 0;
}
