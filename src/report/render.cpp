// results.md and results.csv (see report.h).
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "core/strings.h"
#include "report/report.h"

namespace pkd::report {
namespace {

const char* kDash = "–";

// A Markdown table cell: pipes escaped, line breaks flattened.
std::string md(const std::string& text) {
  std::string out;
  for (char c : text)
    out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}
std::string code(const std::string& text) {
  return "`" + md(text) + "`";
}

// Shortest text that reads back as the same double; "" for NaN.
std::string number(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}
std::string hyper(double v) {
  return std::isnan(v) ? kDash : number(v);
}

std::string table_line(const std::vector<std::string>& cells) {
  return "| " + join(cells, " | ") + " |\n";
}

void results_table(const Report& r, std::string& out) {
  const ResultTable& t = r.table;
  std::vector<std::string> header = {"Model"}, rule = {"---"};
  for (const auto& c : t.columns) header.push_back(md(c.name)), rule.push_back("---:");
  out += table_line(header) + table_line(rule);
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    std::vector<std::string> cells = {md(t.rows[i].label)};
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const std::size_t run = t.best[i][c];
      cells.push_back(run == kNoRun ? kDash
                                    : format_cell(r.runs[run].task, r.runs[run].regression,
                                                  *column_metrics(r.runs[run], t.columns[c])));
    }
    out += table_line(cells);
  }
}

void best_runs(const Report& r, std::string& out) {
  out +=
      "\n## Best runs\n\nThe run behind each cell and its hyper-parameters (α, β, the layer "
      "map of distillation runs, T when α > 0).\n\n";
  out += table_line(
      {"Model", "Column", "Dev", "lr", "T", "α", "β", "Layer map", "Epochs", "Batch", "Run"});
  out += table_line(
      {"---", "---", "---:", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---"});
  const ResultTable& t = r.table;
  for (std::size_t i = 0; i < t.rows.size(); ++i)
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      if (t.best[i][c] == kNoRun) continue;
      const Run& run = r.runs[t.best[i][c]];
      out += table_line(
          {md(t.rows[i].label), md(t.columns[c].name),
           format_cell(run.task, run.regression, *column_metrics(run, t.columns[c])),
           number(run.hp.learning_rate),
           hyper(run.hp.alpha > 0 ? run.hp.temperature : HyperParams::kNone), hyper(run.hp.alpha),
           hyper(run.hp.beta), run.hp.layer_map.empty() ? kDash : md(run.hp.layer_map),
           std::to_string(run.hp.epochs), std::to_string(run.hp.batch_size), code(run.dir)});
    }
}

void left_out(const Report& r, std::string& out) {
  std::string lines;
  for (const auto& run : r.runs)
    if (run.status != RunStatus::complete)
      lines += table_line({code(run.dir), to_string(run.status), md(run.problem)});
  if (lines.empty()) return;
  out += "\n## Runs not in the table\n\n" + table_line({"Run", "Status", "Why"}) +
         table_line({"---", "---", "---"}) + lines;
}

void submission(const ReportConfig& config, const Report& r, std::string& out) {
  out += "\n## GLUE submission\n\n";
  std::string lines, missing;
  for (const auto& p : r.submissions) {
    if (p.run == kNoRun) {
      missing += (missing.empty() ? "" : ", ") + p.column.submission;
      continue;
    }
    const Run& run = r.runs[p.run];
    lines += table_line({p.column.submission, md(run.row()),
                         format_cell(run.task, run.regression, *column_metrics(run, p.column)),
                         code(run.dir)});
  }
  if (lines.empty())
    out += "No run has a GLUE submission file: `glue_submission.zip` was not written.\n";
  else
    out +=
        "`glue_submission.zip` holds, at its top level, the submission file of the best run "
        "(by dev metric) of the first of " +
        join(config.submission, ", ") + " with one:\n\n" +
        table_line({"File", "Model", "Dev", "Run"}) + table_line({"---", "---", "---:", "---"}) +
        lines;
  if (!missing.empty())
    out += "\nNo submission file (no complete run of " + join(config.submission, ", ") +
           " with one): " + missing + ".\n";
}

}  // namespace

std::string render_markdown(const ReportConfig& config, const Report& r) {
  std::map<RunStatus, int> count;
  for (const auto& run : r.runs) ++count[run.status];
  std::string roots;
  for (const auto& d : config.runs) roots += (roots.empty() ? "" : ", ") + code(d);
  std::string out =
      "# " + md(config.title) + "\n\n" +
      cat(r.runs.size(), " runs under ", roots, ": ", count[RunStatus::complete], " complete, ",
          count[RunStatus::unfinished], " unfinished, ", count[RunStatus::unreadable],
          " unreadable, ", count[RunStatus::no_dev], " without a dev split.\n\n");
  std::string cells;
  for (std::size_t c = 0; c < r.table.columns.size(); ++c) {
    const Column& column = r.table.columns[c];
    for (const auto& row : r.table.best)  // the column's metrics, from any of its runs
      if (row[c] != kNoRun) {
        cells += cat(cells.empty() ? "" : "; ", column.name, " ",
                     display_description(column.task, r.runs[row[c]].regression),
                     column.split.empty() ? "" : " (" + column.split + ")");
        break;
      }
  }
  out += "Dev-set results ×100 (" + md(cells) +
         "). Each cell is the best complete run of its model and task by the task's primary "
         "metric: MCC for CoLA, F1 for MRPC and QQP, Pearson for STS-B, accuracy otherwise.\n\n";
  results_table(r, out);
  best_runs(r, out);
  left_out(r, out);
  if (config.writes("zip") && !config.submission.empty()) submission(config, r, out);
  if (!r.figures.empty()) {
    out += "\n## Plots\n";
    for (const auto& f : r.figures) out += "\n![" + md(f.caption) + "](" + f.file + ")\n";
  }
  return out;
}

std::string render_csv(const std::vector<Run>& runs) {
  std::set<std::pair<std::string, std::string>> metric_columns;  // (split, metric)
  for (const auto& run : runs)
    for (const auto& [split, metrics] : run.eval)
      for (const auto& m : metrics) metric_columns.emplace(split, m.first);
  auto field = [](const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
  };
  std::vector<std::string> header = {
      "run",       "status", "problem",       "command",     "task",  "model",
      "kind",      "layers", "learning_rate", "temperature", "alpha", "beta",
      "layer_map", "epochs", "batch_size",    "max_steps",   "seed",  "epochs_done"};
  for (const auto& [split, metric] : metric_columns) header.push_back(split + "." + metric);
  header.push_back("submission_files");
  std::string out = join(header, ",") + "\n";
  for (const auto& run : runs) {
    const bool known = !run.command.empty();
    std::vector<std::string> cells = {
        run.dir,
        to_string(run.status),
        run.problem,
        run.command,
        run.task,
        known ? run.row() : "",
        known ? to_string(run.kind) : "",
        run.layers > 0 ? std::to_string(run.layers) : "",
        number(run.hp.learning_rate),
        number(run.hp.temperature),
        number(run.hp.alpha),
        number(run.hp.beta),
        run.hp.layer_map,
        known ? std::to_string(run.hp.epochs) : "",
        known ? std::to_string(run.hp.batch_size) : "",
        known ? std::to_string(run.hp.max_steps) : "",
        known ? std::to_string(run.hp.seed) : "",
        run.history.empty() ? "" : std::to_string(run.history.back().epoch)};
    for (const auto& [split, metric] : metric_columns) {
      auto s = run.eval.find(split);
      const bool has = s != run.eval.end() && s->second.count(metric);
      cells.push_back(has ? number(s->second.at(metric)) : "");
    }
    cells.push_back(join(run.submissions, " "));
    for (auto& c : cells) c = field(c);
    out += join(cells, ",") + "\n";
  }
  return out;
}

}  // namespace pkd::report
