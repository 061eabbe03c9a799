#pragma once
// The report's SVG plots: line charts (training curves over optimizer steps) and heat maps (the
// best dev metric over an alpha x beta grid).
#include <string>
#include <utility>
#include <vector>

namespace pkd::report {

struct Series {
  std::string label;                              // legend entry: the table row
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
};

struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
};

// Panels side by side with one legend (a label keeps its colour in every panel).
std::string line_chart_svg(const std::string& title, const std::vector<Panel>& panels);

struct HeatMap {
  std::string title, x_label, y_label;
  std::vector<double> xs, ys;               // column and row values, ascending
  std::vector<std::vector<double>> values;  // [y][x]: x100 in the cells; NaN = no run
};

// One coloured cell per (x, y), its value x100 with one decimal, and a colour bar.
std::string heat_map_svg(const HeatMap& map);

}  // namespace pkd::report
