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
int run_sweep_command(const std::vector<std::string>& args);
int run_report_command(const std::vector<std::string>& args);

// Reads and validates the configuration `pkd finetune|distill ARGS` would run with, without
// running it (paths are not checked: they may be outputs of jobs still to run).
void check_training_config(const std::string& command, const std::vector<std::string>& args);

}  // namespace pkd::cli
