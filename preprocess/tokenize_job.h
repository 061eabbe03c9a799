#pragma once
// `pkd tokenize`: every split of a task -> OUT/<split>/shard-NNNNN.h5 + manifest.json (last).
// Under MPI the shards are dealt round-robin to the ranks; rank 0 takes the decisions that
// depend on existing output (skip, refuse, overwrite), broadcasts them, and writes manifests.
// Re-running skips complete splits and complete shards made with the same settings.
#include <cstdint>
#include <string>
#include <vector>

#include "mpi/comm.h"
#include "preprocess/tokenize_config.h"

namespace pkd::preprocess {

struct SplitSummary {
  std::string split, dir;
  std::int64_t examples = 0, tokens = 0, truncated = 0, shards = 0, skipped_rows = 0;
  bool up_to_date = false;  // nothing to do: the manifest matched
  std::vector<std::int64_t> length_histogram;
};

std::vector<SplitSummary> run_tokenize(TokenizeConfig config, mpi::Comm& comm);

// A table of the splits for the terminal.
std::string format_summary(const std::vector<SplitSummary>& splits);

}  // namespace pkd::preprocess
