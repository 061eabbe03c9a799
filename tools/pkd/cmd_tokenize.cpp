#include <cstdio>

#include "command_line.h"
#include "commands.h"
#include "core/error.h"
#include "core/log.h"
#include "mpi/comm.h"
#include "preprocess/tokenize_job.h"

namespace pkd::cli {

int run_tokenize_command(const std::vector<std::string>& args) {
  preprocess::TokenizeConfig config;
  CommandLine cl = parse_command_line("tokenize", args, config::flags_of("tokenize", config));
  if (cl.help) {
    std::printf(
        "Usage: pkd tokenize --task TASK --data-dir DIR --vocab VOCAB.txt --out OUT [options]\n\n"
        "Tokenizes every split of a GLUE task (or custom TSV data) with BERT's WordPiece "
        "tokenizer\n"
        "into HDF5 token shards: OUT/<split>/shard-NNNNN.h5 plus OUT/<split>/manifest.json.\n"
        "Under mpirun/srun the ranks share the shards. Re-running skips complete output.\n\n"
        "Options (each is a key of the [tokenize] config table):\n%s\n%s",
        config::format_flag_help(config::flags_of("tokenize", config)).c_str(),
        common_flags_help().c_str());
    return 0;
  }
  if (!cl.positional.empty())
    usage_fail("pkd tokenize takes no positional arguments, got '", cl.positional[0], "'");
  cl.doc.check_tables({"tokenize"});
  cl.doc.read("tokenize", config);
  mpi::Comm& comm = mpi::Comm::world();
  auto summary = preprocess::run_tokenize(config, comm);
  if (comm.is_root())
    std::printf("%s tokens -> %s\n%s", config.task.c_str(), config.out.c_str(),
                preprocess::format_summary(summary).c_str());
  return 0;
}

}  // namespace pkd::cli
