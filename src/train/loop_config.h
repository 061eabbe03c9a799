#pragma once
// The settings of a training loop, shared by `pkd finetune` and `pkd distill`: their fields sit
// directly in the [finetune] / [distill] table (the command owns its table, the trainer core
// owns these keys and their validation).
#include <cstdint>
#include <string>
#include <vector>

namespace pkd::train {

struct LoopConfig {
  std::string train;  // token split directory to train on
  std::string dev;    // token split directory evaluated at epoch ends / eval_every ("" = none)
  std::string test;   // token split to predict with the exported model ("" = none)
  std::vector<std::string> extra_dev;   // more labeled splits the exported model is scored on
  std::vector<std::string> extra_test;  // more test splits it predicts (MNLI: *_mismatched)
  std::string output_dir;               // model/, checkpoints/, eval_results.json, metrics.jsonl
  std::int64_t epochs = 3;
  std::int64_t batch_size = 32;  // global: examples per optimizer step over all ranks
  std::int64_t gradient_accumulation_steps = 1;  // micro-batches per optimizer step
  std::int64_t max_steps = -1;                   // stop after this many optimizer steps
  std::int64_t seed = 42;
  std::int64_t bucket_batches = 50;       // length-bucketing window, in batches (1 = off)
  std::int64_t window_examples = 100000;  // streaming window; 0 = the whole split in memory
  std::int64_t prefetch_steps = 1;        // steps whose batches the loader thread makes ahead
  std::int64_t eval_batch_size = 64;
  std::int64_t log_every = 50;         // steps between progress lines
  std::int64_t eval_every = 0;         // steps between dev evaluations (0: epoch ends only)
  std::int64_t checkpoint_every = 0;   // steps between checkpoints (0: epoch ends only)
  std::int64_t keep_checkpoints = 2;   // newest checkpoints kept
  bool resume = false;                 // continue from output_dir/checkpoints/latest
  std::int64_t stop_after_steps = -1;  // act as if preempted after this step (tests, drills)

  template <class V>
  void visit(V& v) {
    v.field("train", train, "token split directory to train on (e.g. tokens/SST-2/train)");
    v.field("dev", dev, "token split directory evaluated after each epoch (\"\" = none)");
    v.field("test", test,
            "token split (a test split) predicted by the exported model into OUTPUT_DIR/<GLUE "
            "submission name>, e.g. SST-2.tsv (\"\" = none)");
    v.field("extra_dev", extra_dev,
            "more labeled splits the exported (best) model is evaluated on after training, added "
            "to eval_results.json (MNLI: tokens/MNLI/dev_mismatched)");
    v.field("extra_test", extra_test,
            "more test splits the exported model predicts into GLUE submission files (MNLI: "
            "tokens/MNLI/test_mismatched)");
    v.field("output_dir", output_dir,
            "where model/, checkpoints/, eval_results.json and metrics.jsonl go");
    v.field("epochs", epochs, "passes over the training split");
    v.field("batch_size", batch_size, "global batch: examples per optimizer step over all ranks");
    v.field("gradient_accumulation_steps", gradient_accumulation_steps,
            "micro-batches per optimizer step (the global batch is split; same result)");
    v.field("max_steps", max_steps, "stop after this many optimizer steps (-1 = all epochs)");
    v.field("seed", seed, "seed of initialisation, shuffling and dropout");
    v.field("bucket_batches", bucket_batches, "length-bucketing window in batches (1 = off)");
    v.field("window_examples", window_examples,
            "examples of the training split held in memory per rank (0 = all)");
    v.field("prefetch_steps", prefetch_steps,
            "optimizer steps whose batches a loader thread reads and collates ahead of training "
            "(0 = in the training thread; the batches, and so the results, are the same)");
    v.field("eval_batch_size", eval_batch_size, "examples per forward pass when evaluating");
    v.field("log_every", log_every, "optimizer steps between progress lines");
    v.field("eval_every", eval_every,
            "optimizer steps between dev evaluations besides those at epoch ends (0 = epoch ends "
            "only); each is a metrics.jsonl line and may become the exported best model");
    v.field("checkpoint_every", checkpoint_every,
            "optimizer steps between checkpoints (0 = at epoch ends only)");
    v.field("keep_checkpoints", keep_checkpoints, "newest checkpoints to keep (at least 1)");
    v.field("resume", resume,
            "continue from OUTPUT_DIR/checkpoints/latest (starts afresh when there is none)");
    v.field("stop_after_steps", stop_after_steps,
            "behave as if preempted after this optimizer step (-1 = never; for drills and tests)");
  }
  // `table` names the config table in messages ("finetune").
  void validate(const std::string& table) const;
};

}  // namespace pkd::train
