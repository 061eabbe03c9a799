#include <cstdio>

#include "command_line.h"
#include "commands.h"
#include "core/error.h"
#include "preprocess/inspect.h"

namespace pkd::cli {
namespace {

// [inspect]
struct InspectConfig {
  std::int64_t example = -1;  // -1 = summary
  std::string vocab;

  template <class V>
  void visit(V& v) {
    v.field("example", example,
            "decode this example (0-based index in the split) instead of a summary");
    v.field("vocab", vocab, "vocab.txt to decode ids (default: OUT/vocab.txt beside the split)");
  }
};

}  // namespace

int run_inspect_command(const std::vector<std::string>& args) {
  InspectConfig config;
  CommandLine cl = parse_command_line("inspect", args, config::flags_of("inspect", config));
  if (cl.help) {
    std::printf(
        "Usage: pkd inspect PATH [--example K] [--vocab VOCAB.txt]\n\n"
        "Summarises pkd token output: PATH is a `pkd tokenize` output directory, one split\n"
        "directory or one shard file. Counts, attributes, label distribution and a histogram of\n"
        "sequence lengths; --example K prints example K as WordPiece tokens and ids. A\n"
        "`pkd cache-teacher` split: what it holds and its disk use per million tokens.\n\n"
        "Options:\n%s\n%s",
        config::format_flag_help(config::flags_of("inspect", config)).c_str(),
        common_flags_help().c_str());
    return 0;
  }
  if (cl.positional.size() != 1)
    usage_fail("pkd inspect takes exactly one PATH, got ", cl.positional.size());
  cl.doc.check_tables({"inspect"});
  cl.doc.read("inspect", config);
  preprocess::InspectOptions options;
  options.path = cl.positional[0];
  if (config.example != -1) options.example = config.example;  // other negatives: refused
  options.vocab = config.vocab;
  std::printf("%s", preprocess::inspect(options).c_str());
  return 0;
}

}  // namespace pkd::cli
