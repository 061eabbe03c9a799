// The files pkd report writes without a library: the ZIP archive (read back by Python's zipfile
// and unzip) and the SVG plots (parsed by Python's XML parser).
#include <gtest/gtest.h>

#include <cmath>

#include "core/fs.h"
#include "report/plots.h"
#include "report/svg.h"
#include "report/zip.h"
#include "support/test_support.h"

namespace pkd::report {
namespace {

using test::TempDir;

const std::string kPython = file_exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

// Runs a Python snippet with the file as sys.argv[1]; its output.
test::CommandResult python(const std::string& code, const std::string& path) {
  return test::run(kPython + " -c '" + code + "' " + path);
}

TEST(ReportZip, RoundTripsThroughPythonAndUnzip) {
  TempDir dir;
  std::string big;
  for (int i = 0; i < 5000; ++i) big += std::to_string(i) + "\tentailment\n";
  const std::string path = dir / "glue_submission.zip";
  write_file_atomic(path, zip_archive({{"MNLI-m.tsv", "index\tprediction\n" + big, 1700000000},
                                       {"RTE.tsv", "x", 0},  // incompressible: stored
                                       {"empty.tsv", "", 1700000000}}));
  auto r = python(
      "import zipfile, sys\n"
      "z = zipfile.ZipFile(sys.argv[1])\n"
      "assert z.testzip() is None\n"
      "i = {x.filename: x for x in z.infolist()}\n"
      "print(sorted(i), i[\"MNLI-m.tsv\"].compress_type, i[\"RTE.tsv\"].compress_type,\n"
      "      i[\"MNLI-m.tsv\"].date_time, len(z.read(\"MNLI-m.tsv\")), z.read(\"RTE.tsv\"))",
      path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "['MNLI-m.tsv', 'RTE.tsv', 'empty.tsv'] 8 0 (2023, 11, 14, 22, 13, 20) " +
                          std::to_string(17 + big.size()) + " b'x'\n");
  if (file_exists("/usr/bin/unzip")) {
    r = test::run("/usr/bin/unzip -t " + path);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("No errors detected"), std::string::npos) << r.output;
  }
}

TEST(ReportZip, RefusesBadNames) {
  EXPECT_NE(test::error_of([] {
              zip_archive({{"a.tsv", "1", 0}, {"a.tsv", "2", 0}});
            }).find("appears twice"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              zip_archive({{"/etc/x", "1", 0}});
            }).find("not a relative path"),
            std::string::npos);
  EXPECT_EQ(zip_archive({}).size(), 22u);  // just the end record
}

TEST(ReportSvg, ChartsAreWellFormedXml) {
  TempDir dir;
  Panel dev{"dev accuracy <x100> & more", "epoch", "accuracy", {}};
  dev.series.push_back({"BERT6-PKD-[2,4]", {{1, 80.5}, {2, 82.0}, {3, std::nan("")}}});
  dev.series.push_back({"\"quoted\" 'row'", {{1, 70}}});
  Panel loss{"train loss", "epoch", "loss", {{"BERT6-PKD-[2,4]", {{1, 0.7}, {2, 0.5}}}}};
  write_file_atomic(dir / "curves.svg", line_chart_svg("SST-2 & <friends>", {dev, loss}));
  HeatMap map;
  map.title = "alpha x beta";
  map.xs = {0, 10, 100};
  map.ys = {0.2, 0.5};
  map.values = {{0.81, std::nan(""), 0.85}, {0.80, 0.83, 0.80}};
  write_file_atomic(dir / "heat.svg", heat_map_svg(map));
  const std::string count =
      "import sys, xml.etree.ElementTree as E\n"
      "r = E.parse(sys.argv[1]).getroot()\n"
      "n = \"{http://www.w3.org/2000/svg}\"\n"
      "assert r.tag == n + \"svg\", r.tag\n"
      "print(r.find(n + \"title\").text, len(r.findall(n + \"polyline\")),\n"
      "      len(r.findall(n + \"circle\")), [t.text for t in r.findall(n + \"text\")][:5])";
  auto r = python(count, dir / "curves.svg");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Polylines: 1 in dev (the NaN point is skipped), 1 in loss; the single point has a marker.
  EXPECT_EQ(r.output.substr(0, r.output.find('[')), "SST-2 & <friends> 2 5 ");
  EXPECT_NE(r.output.find("dev accuracy <x100> & more"), std::string::npos) << r.output;
  r = python(count, dir / "heat.svg");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string texts = read_file(dir / "heat.svg");
  for (const char* cell : {">81.0<", ">85.0<", ">83.0<", ">-<"})
    EXPECT_NE(texts.find(cell), std::string::npos) << cell;
}

TEST(ReportSvg, TicksAndColours) {
  const std::vector<double> ticks = nice_ticks(0, 1), expected = {0, 0.2, 0.4, 0.6, 0.8, 1};
  ASSERT_EQ(ticks.size(), expected.size());
  for (std::size_t i = 0; i < ticks.size(); ++i) EXPECT_NEAR(ticks[i], expected[i], 1e-12);
  EXPECT_NEAR(nice_ticks(51.5, 52.5).front(), 51.6, 1e-9);
  EXPECT_EQ(nice_ticks(3, 3), std::vector<double>{3});
  EXPECT_EQ(tick_label(2e-5), "2e-05");
  EXPECT_EQ(scale_color(0), "#440154");
  EXPECT_EQ(scale_color(1), "#fde725");
  EXPECT_EQ(xml_escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
}

}  // namespace
}  // namespace pkd::report
