#pragma once
// [report]: `pkd report` — finished training runs -> the paper's results table, plots and the
// GLUE submission zip.
#include <string>
#include <vector>

namespace pkd::report {

struct ReportConfig {
  std::vector<std::string> runs;  // directories searched recursively for run directories
  std::string out;                // the report directory
  std::vector<std::string> format = {"md", "csv", "svg", "zip"};
  // Whose GLUE submission files go into the zip, per column: the first selector with a run.
  std::vector<std::string> submission = {"pkd", "kd", "ft"};
  std::string title = "Patient Knowledge Distillation: GLUE dev results";
  bool strict = false;  // an unreadable run is an error instead of a warning

  template <class V>
  void visit(V& v) {
    v.field("runs", runs,
            "directories searched recursively for runs (finetune.toml / distill.toml); the "
            "--runs flag repeats");
    v.field("out", out, "report directory: results.md, results.csv, *.svg, glue_submission.zip");
    v.field("format", format, "outputs to write: md, csv, svg, zip");
    v.field("submission", submission,
            "whose submission files go into the zip, per GLUE file the first with a run: "
            "pkd, kd, ft, teacher or a row name such as BERT6-PKD-Skip ([] = no zip)");
    v.field("title", title, "heading of results.md");
    v.field("strict", strict,
            "an unreadable run (corrupt eval_results.json, config, metrics.jsonl) is an error "
            "instead of a warning and a line in the report");
  }
  // Fails with a UsageError naming the key when a value is not allowed.
  void validate() const;
  bool writes(const std::string& format_name) const;
};

}  // namespace pkd::report
