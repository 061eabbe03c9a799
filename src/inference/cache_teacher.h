#pragma once
// `pkd cache-teacher`: the teacher, in eval mode, once over a split's token shards, writing its
// logits and every layer's [CLS] vector to one feature shard per token shard (manifest last).
// Distillation then never runs the teacher. Ranks share the shards; re-runs skip complete ones.
#include <cstdint>
#include <string>

#include "mpi/comm.h"
#include "model/runtime.h"

namespace pkd::inference {

struct CacheTeacherConfig {
  std::string model;              // HuggingFace-format teacher directory
  std::string tokens;             // a `pkd tokenize` split directory
  std::string out;                // feature split directory
  std::string dtype = "float16";  // of the [CLS] vectors: float16 or float32 (logits: float32)
  std::int64_t batch_size = 64;   // examples per forward pass (length-sorted, dynamic padding)
  bool overwrite = false;         // replace features made from another teacher or tokens

  template <class V>
  void visit(V& v) {
    v.field("model", model, "teacher: a HuggingFace-format model directory");
    v.field("tokens", tokens,
            "token split directory (pkd tokenize output, e.g. tokens/SST-2/train)");
    v.field("out", out, "feature split directory to write");
    v.field("dtype", dtype, "storage type of the [CLS] vectors: float16 or float32");
    v.field("batch_size", batch_size, "examples per forward pass");
    v.field("overwrite", overwrite, "replace features made from another teacher or other tokens");
  }
  void validate() const;
};

struct CacheSummary {
  std::int64_t examples = 0, shards = 0, written = 0;
  double seconds = 0;  // wall time of the forward passes and writes (this run)
  bool up_to_date = false;
};

CacheSummary run_cache_teacher(const CacheTeacherConfig& config,
                               const model::RuntimeConfig& runtime, mpi::Comm& comm);

}  // namespace pkd::inference
