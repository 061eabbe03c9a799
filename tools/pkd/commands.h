#pragma once
// pkd's subcommands. Each parses its arguments, validates, builds and runs; exit code 0 on
// success (errors are exceptions, turned into exit codes by main).
#include <string>
#include <vector>

namespace pkd::cli {

int run_tokenize_command(const std::vector<std::string>& args);
int run_inspect_command(const std::vector<std::string>& args);
int run_cache_teacher_command(const std::vector<std::string>& args);
int run_eval_command(const std::vector<std::string>& args);
int run_predict_command(const std::vector<std::string>& args);
int run_finetune_command(const std::vector<std::string>& args);
int run_distill_command(const std::vector<std::string>& args);

}  // namespace pkd::cli
