#pragma once
// Run directories written by hand, as pkd writes them, for the report tests
// (test_report_read.cpp, test_report_write.cpp).
#include <string>

#include "core/strings.h"
#include "support/test_support.h"

namespace pkd::report::test_runs {

using test::TempDir;
using test::write_text;

struct FakeRun {
  std::string command = "distill";
  std::string task = "SST-2";
  double alpha = 0.5, beta = 100, learning_rate = 2e-5;
  std::string layer_map = "skip";
  int layers = 6, init_layers = 0, epochs = 3, epochs_done = 3;
  std::string eval = R"({"dev": {"accuracy": 0.9}})";
  bool test_split = true, submission = true, model = true;
};

inline std::string dev_accuracy(double value) {
  return cat(R"({"dev": {"accuracy": )", value, "}}");
}

// ROOT/tokens/TASK/train/manifest.json and the run directory ROOT/NAME as pkd writes them; the
// config's paths are relative to ROOT, as in a sweep's work_dir.
inline std::string write_run(const TempDir& root, const std::string& name, const FakeRun& f) {
  const std::string dir = root / name, t = f.command;
  write_text(root / ("tokens/" + f.task + "/train/manifest.json"),
             cat(R"({"format": "pkd.token_manifest", "task": ")", f.task, R"(", "regression": )",
                 f.task == "STS-B" ? "true" : "false", "}"));
  std::string toml =
      cat("[", t, "]\ntrain = \"tokens/", f.task, "/train\"\ndev = \"tokens/", f.task,
          "/dev\"\ntest = \"", f.test_split ? "tokens/" + f.task + "/test" : "",
          "\"\nepochs = ", f.epochs, "\nbatch_size = 32\nmax_steps = -1\nseed = 42\n");
  if (t == "distill")
    toml += cat("teacher = \"teacher/model\"\nstudent_layers = ", f.layers,
                "\n[distill.loss]\nalpha = ", f.alpha, "\nbeta = ", f.beta,
                "\ntemperature = 10.0\nlayer_map = \"", f.layer_map, "\"\n");
  else
    toml += cat("init = \"random\"\ninit_layers = ", f.init_layers,
                "\n[finetune.random_init]\nnum_hidden_layers = ", f.layers, "\n");
  write_text(dir + "/" + t + ".toml",
             toml + cat("[optimizer]\nlearning_rate = ", f.learning_rate, "\n"));
  if (!f.eval.empty()) write_text(dir + "/eval_results.json", f.eval);
  std::string history;
  for (int e = 1; e <= f.epochs_done; ++e)
    history += cat(R"({"epoch": )", e, R"(, "step": )", 10 * e, R"(, "train_loss": )", 1.0 / e,
                   R"(, "dev": {"accuracy": )", 0.5 + 0.1 * e, "}}\n");
  write_text(dir + "/metrics.jsonl", history);
  if (f.model)
    write_text(dir + "/model/config.json", cat(R"({"num_hidden_layers": )", f.layers, "}"));
  if (f.submission) write_text(dir + "/" + f.task + ".tsv", "index\tprediction\n0\t1\n1\t0\n");
  return dir;
}

}  // namespace pkd::report::test_runs
