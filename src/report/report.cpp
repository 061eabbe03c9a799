#include "report/report.h"

#include <sys/stat.h>

#include <cstdio>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "report/run_reader.h"
#include "report/zip.h"

namespace pkd::report {
namespace {

const char* kZipName = "glue_submission.zip";

std::time_t modification_time(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mtime : 0;
}

// The zip of the picked submission files; removes a stale one when there is nothing to put in.
void write_zip(const std::string& path, const Report& r, std::vector<std::string>& written) {
  std::vector<ZipEntry> entries;
  for (const auto& p : r.submissions) {
    if (p.run == kNoRun) continue;
    const std::string file = r.runs[p.run].dir + "/" + p.column.submission;
    entries.push_back({p.column.submission, read_file(file), modification_time(file)});
  }
  if (entries.empty()) {
    log_warn("no complete run has a GLUE submission file: ", path, " not written");
    if (file_exists(path) && std::remove(path.c_str()) != 0) fail("cannot remove the stale ", path);
    return;
  }
  write_file_atomic(path, zip_archive(entries));
  written.push_back(path);
}

}  // namespace

Report write_report(const ReportConfig& config) {
  config.validate();
  Report r;
  r.runs = collect_runs(config.runs, config.strict);
  if (r.runs.empty())
    fail("no training runs under ", join(config.runs, ", "),
         ": expected directories holding finetune.toml or distill.toml (pkd finetune / pkd "
         "distill output)");
  r.table = build_table(r.runs);
  make_directories(config.out);
  remove_stale_temp_files(config.out);
  auto write = [&](const std::string& name, const std::string& content) {
    write_file_atomic(config.out + "/" + name, content);
    r.written.push_back(config.out + "/" + name);
  };
  if (config.writes("svg")) {
    r.figures = make_figures(r.runs, r.table);
    for (const auto& f : r.figures) write(f.file, f.svg);
  }
  if (config.writes("zip") && !config.submission.empty()) {
    r.submissions = pick_submissions(r.runs, r.table.columns, config.submission);
    write_zip(config.out + "/" + kZipName, r, r.written);
  }
  if (config.writes("csv")) write("results.csv", render_csv(r.runs));
  if (config.writes("md")) write("results.md", render_markdown(config, r));
  return r;
}

}  // namespace pkd::report
