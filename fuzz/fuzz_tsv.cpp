// The GLUE/TSV readers (src/glue/tsv.*, split_reader.*, tasks.*, custom_task.*): the input's first
// bytes choose a task (one of the nine GLUE tasks or a `custom` task whose columns, labels and
// flags come from the next bytes), a split and the bad-row policy; the rest is the TSV file.
// Checks, on success: the line splitting of TsvFile (count, no '\n', columns re-join to the
// line), and every example against the layout (row/line numbering, UTF-8 and non-empty texts,
// label ids in range, finite regression scores, skipped + kept rows = data rows).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/strings.h"
#include "fuzz_common.h"
#include "glue/custom_task.h"
#include "glue/split_reader.h"
#include "glue/tasks.h"
#include "glue/tsv.h"
#include "text/utf8.h"

using namespace pkd;
using pkd::fuzz::Input;

namespace {

const char* const kNames[] = {"sentence", "label", "question", "#1 String"};

config::ColumnRef column(bool by_name, unsigned bits) {
  config::ColumnRef ref;
  if (by_name)
    ref.name = kNames[bits & 3];
  else
    ref.index = bits & 3;
  return ref;
}

// The lines TsvFile must find in `bytes`: a leading BOM dropped, split at '\n', a final line
// without '\n' kept, nothing after a final '\n', one trailing '\r' dropped (CRLF).
std::vector<std::string_view> expected_lines(std::string_view bytes) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < bytes.size()) {
    std::size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::ScratchFile scratch("split.tsv");
  static const std::vector<std::string> glue_names = glue::glue_task_names();
  Input in{data, size};
  const std::uint8_t choice = in.byte(), split_byte = in.byte(), flags = in.byte(),
                     columns = in.byte();
  const glue::BadRowPolicy policy =
      split_byte & 0x80 ? glue::BadRowPolicy::skip : glue::BadRowPolicy::error;

  glue::TaskSpec task;
  const std::size_t which = choice % (glue_names.size() + 1);
  if (which < glue_names.size()) {
    const glue::TaskSpec* spec = glue::find_glue_task(glue_names[which]);
    PKD_FUZZ_CHECK(spec != nullptr, "find_glue_task(" + glue_names[which] + ")");
    PKD_FUZZ_CHECK(!spec->splits.empty(), glue_names[which] + " has no splits");
    task = *spec;
  } else {
    glue::CustomTaskConfig custom;
    custom.header = flags & 1;
    const bool by_name = flags & 2;
    custom.regression = flags & 4;
    custom.allow_empty_text = flags & 8;
    custom.text_a = column(by_name, columns);
    custom.text_b = flags & 16 ? column(by_name, columns >> 2) : config::ColumnRef{};
    custom.label = column(by_name, columns >> 4);
    if (!custom.regression)
      custom.labels = flags & 32 ? std::vector<std::string>{"0", "1"}
                                 : std::vector<std::string>{"neg", "pos", "neutral"};
    if (flags & 64) custom.labels.push_back("0");  // duplicates or labels with regression
    bool built = fuzz::expect_ok_or_error("", [&] { task = custom.to_task({"train", "test"}); });
    if (!built) return 0;
    PKD_FUZZ_CHECK(task.splits.size() == 2, "custom task splits");
  }
  const glue::SplitLayout& layout = task.splits[(split_byte & 0x7f) % task.splits.size()];

  const std::string_view bytes = in.rest();
  const std::string& path = scratch.write(bytes);

  // The raw line reader.
  std::shared_ptr<const glue::TsvFile> file;
  fuzz::expect_ok_or_error(path, [&] { file = glue::TsvFile::read(path); });
  PKD_FUZZ_CHECK(file != nullptr, "TsvFile::read refused an existing file");
  const std::vector<std::string_view> expected = expected_lines(bytes);
  PKD_FUZZ_CHECK(file->lines().size() == expected.size(),
                 cat("lines ", file->lines().size(), ", expected ", expected.size()));
  std::vector<std::string_view> cols;
  for (std::size_t i = 0; i < file->lines().size(); ++i) {
    const glue::TsvLine& line = file->lines()[i];
    PKD_FUZZ_CHECK(line.line_number == static_cast<std::int64_t>(i) + 1, "line numbering");
    PKD_FUZZ_CHECK(line.text == expected[i], cat("line ", i + 1, " differs"));
    glue::TsvFile::split_columns(line.text, cols);
    std::string joined;
    for (std::size_t c = 0; c < cols.size(); ++c) {
      if (c) joined += '\t';
      PKD_FUZZ_CHECK(cols[c].find('\t') == std::string_view::npos, "a column holds a tab");
      joined += cols[c];
    }
    PKD_FUZZ_CHECK(joined == line.text, "columns do not re-join to the line");
  }

  // The split reader.
  glue::SplitData split;
  const bool ok =
      fuzz::expect_ok_or_error(path, [&] { split = glue::read_split(task, layout, path, policy); });
  if (!ok) return 0;
  const auto& lines = split.file->lines();
  const std::size_t first = layout.has_header ? 1 : 0;
  PKD_FUZZ_CHECK(!split.examples.empty(), "read_split returned no examples");
  PKD_FUZZ_CHECK(split.labeled == layout.labeled, "labeled flag");
  if (policy == glue::BadRowPolicy::error)
    PKD_FUZZ_CHECK(split.skipped_lines.empty(), "rows skipped under on_bad_row = error");
  PKD_FUZZ_CHECK(split.examples.size() + split.skipped_lines.size() == lines.size() - first,
                 cat(split.examples.size(), " kept + ", split.skipped_lines.size(),
                     " skipped != ", lines.size() - first, " data rows"));
  std::int64_t previous = 0;
  for (const glue::Example& ex : split.examples) {
    PKD_FUZZ_CHECK(ex.line > previous, "example lines not increasing");
    previous = ex.line;
    PKD_FUZZ_CHECK(ex.line >= static_cast<std::int64_t>(first) + 1 &&
                       ex.line <= static_cast<std::int64_t>(lines.size()),
                   cat("line ", ex.line, " out of range"));
    PKD_FUZZ_CHECK(ex.row == ex.line - 1 - static_cast<std::int64_t>(first),
                   cat("row ", ex.row, " for line ", ex.line));
    const std::string_view line = lines[static_cast<std::size_t>(ex.line - 1)].text;
    auto inside = [&](std::string_view s) {
      return s.data() >= line.data() && s.data() + s.size() <= line.data() + line.size();
    };
    PKD_FUZZ_CHECK(inside(ex.text_a), "text_a is not a view into its line");
    PKD_FUZZ_CHECK(text::find_invalid_utf8(line) == std::string_view::npos,
                   "an example's line is invalid UTF-8");
    PKD_FUZZ_CHECK(ex.text_a.find('\t') == std::string_view::npos, "text_a holds a tab");
    PKD_FUZZ_CHECK(ex.text_b.has_value() == !layout.text_b.empty(), "text_b presence");
    if (ex.text_b) {
      PKD_FUZZ_CHECK(inside(*ex.text_b), "text_b is not a view into its line");
      PKD_FUZZ_CHECK(ex.text_b->find('\t') == std::string_view::npos, "text_b holds a tab");
    }
    if (!task.allow_empty_text) {
      PKD_FUZZ_CHECK(!trim(ex.text_a).empty(), "empty text_a accepted");
      if (ex.text_b) PKD_FUZZ_CHECK(!trim(*ex.text_b).empty(), "empty text_b accepted");
    }
    if (!layout.labeled) {
      PKD_FUZZ_CHECK(ex.label == -1 && std::isnan(ex.score), "an unlabeled split has labels");
    } else if (task.regression) {
      PKD_FUZZ_CHECK(std::isfinite(ex.score) && ex.label == -1, "regression score");
    } else {
      PKD_FUZZ_CHECK(ex.label >= 0 && ex.label < static_cast<std::int64_t>(task.labels.size()),
                     cat("label id ", ex.label, " of ", task.labels.size()));
    }
  }
  for (std::size_t i = 1; i < split.skipped_lines.size(); ++i)
    PKD_FUZZ_CHECK(split.skipped_lines[i] > split.skipped_lines[i - 1], "skipped lines order");
  return 0;
}
