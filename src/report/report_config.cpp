#include "report/report_config.h"

#include <algorithm>

#include "core/error.h"
#include "core/strings.h"

namespace pkd::report {
namespace {

const std::vector<std::string> kFormats = {"md", "csv", "svg", "zip"};
const std::vector<std::string> kKinds = {"pkd", "kd", "ft", "teacher"};

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

void ReportConfig::validate() const {
  if (runs.empty())
    usage_fail(
        "report.runs is required: directories holding training runs (--runs DIR, repeatable)");
  if (out.empty()) usage_fail("report.out is required: the report directory (--out DIR)");
  if (format.empty()) usage_fail("report.format is empty: expected some of ", join(kFormats, ", "));
  for (const auto& f : format)
    if (!contains(kFormats, f))
      usage_fail("report.format has ", quoted(f), did_you_mean(f, kFormats), ": expected ",
                 join(kFormats, ", "));
  for (const auto& s : submission)
    if (!contains(kKinds, s) && !starts_with(s, "BERT"))
      usage_fail("report.submission has ", quoted(s), did_you_mean(s, kKinds), ": expected ",
                 join(kKinds, ", "), " or a row name such as BERT6-PKD-Skip");
}

bool ReportConfig::writes(const std::string& format_name) const {
  return contains(format, format_name);
}

}  // namespace pkd::report
