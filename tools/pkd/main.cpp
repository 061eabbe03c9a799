// pkd: Patient Knowledge Distillation for BERT on GLUE, as cluster jobs. `main` only dispatches;
// every command parses, validates, builds and runs in its own file.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "mpi/comm.h"
#include "parallel/gradient_reducer.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

const Command kCommands[] = {
    {"tokenize", "GLUE/custom TSV files -> HDF5 token shards (WordPiece, HuggingFace ids)",
     pkd::cli::run_tokenize_command},
    {"inspect", "summarise token shards or decode one example", pkd::cli::run_inspect_command},
    {"finetune", "train BERT on token shards (data-parallel): the teacher, or a student baseline",
     pkd::cli::run_finetune_command},
    {"distill", "train a k-layer student with Patient Knowledge Distillation from cached features",
     pkd::cli::run_distill_command},
    {"cache-teacher", "run the teacher once over token shards -> logits + [CLS] feature shards",
     pkd::cli::run_cache_teacher_command},
    {"eval", "official GLUE metrics of a model on a labeled token split",
     pkd::cli::run_eval_command},
    {"predict", "GLUE submission file (index, prediction) for a token split",
     pkd::cli::run_predict_command},
    {"sweep", "submit a GLUE pipeline and hyper-parameter grid to Slurm (afterok-chained jobs)",
     pkd::cli::run_sweep_command},
    {"report", "collect finished runs into the paper's results table, plots and the GLUE zip",
     pkd::cli::run_report_command},
};

void print_usage() {
  std::printf("%s\nUsage: pkd COMMAND [options]   (pkd COMMAND --help for details)\n\nCommands:\n",
              pkd::version_string().c_str());
  for (const auto& c : kCommands) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("  %-12s %s\n", "version", "print the version");
}

int dispatch(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // --log-level is global: take it out before the command parses its flags.
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--log-level" || pkd::starts_with(args[i], "--log-level=")) {
      std::string level =
          args[i] == "--log-level" && i + 1 < args.size() ? args[i + 1] : args[i].substr(12);
      pkd::set_log_level(pkd::parse_log_level(level));
      args.erase(args.begin() + static_cast<long>(i),
                 args.begin() + static_cast<long>(i + (args[i] == "--log-level" ? 2 : 1)));
      break;
    }
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "version" || args[0] == "--version") {
    std::printf("%s\n", pkd::version_string().c_str());
    // What this build can do (CMake options PKD_WITH_CUDA, PKD_WITH_NCCL, PKD_WITH_GLOO).
    std::printf("CUDA: %s; gradient reducers: %s\n", PKD_WITH_CUDA ? "yes" : "no",
                pkd::parallel::built_backends().c_str());
    return 0;
  }
  std::vector<std::string> names;
  for (const auto& c : kCommands) {
    names.emplace_back(c.name);
    if (args[0] == c.name) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  pkd::usage_fail("unknown command '", args[0], "'", pkd::did_you_mean(args[0], names),
                  "; commands: ", pkd::join(names, ", "));
}

}  // namespace

int main(int argc, char** argv) {
  pkd::mpi::Comm* comm = nullptr;
  int code = 0;
  try {
    comm = &pkd::mpi::Comm::init(&argc, &argv);
    code = dispatch(argc, argv);
  } catch (const pkd::Error& e) {
    pkd::log_error(e.what());
    code = e.exit_code();
  } catch (...) {
    pkd::log_error(pkd::current_exception_message());
    code = 1;
  }
  // A failing rank takes the whole job down (MPI_Abort) instead of leaving the others waiting.
  if (code != 0 && comm && comm->size() > 1) comm->abort(code);
  if (comm) comm->finalize();
  return code;
}
