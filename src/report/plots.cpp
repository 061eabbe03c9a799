#include "report/plots.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "report/cells.h"
#include "report/svg.h"

namespace pkd::report {
namespace {

constexpr double kPanelWidth = 340, kPanelHeight = 300, kLeft = 60, kTop = 50, kPlotWidth = 250,
                 kPlotHeight = 200;

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isnan(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void pad() {  // an empty or flat range gets some height
    if (lo > hi) lo = 0, hi = 1;
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
  }
};

void draw_panel(Svg& svg, const Panel& panel, double x0, const std::vector<std::string>& labels) {
  Range xr, yr;
  for (const auto& s : panel.series)
    for (const auto& [x, y] : s.points) xr.add(x), yr.add(y);
  xr.pad();
  yr.pad();
  const double px = x0 + kLeft, py = kTop;
  auto sx = [&](double x) { return px + (x - xr.lo) / (xr.hi - xr.lo) * kPlotWidth; };
  auto sy = [&](double y) {
    return py + kPlotHeight - (y - yr.lo) / (yr.hi - yr.lo) * kPlotHeight;
  };
  svg.text(px + kPlotWidth / 2, py - 12, panel.title, 13, "middle");
  for (double t : nice_ticks(yr.lo, yr.hi)) {
    svg.line(px, sy(t), px + kPlotWidth, sy(t), "#dddddd", 1, true);
    svg.text(px - 6, sy(t) + 4, tick_label(t), 10, "end");
  }
  bool integral = true;  // epochs: no ticks between them
  for (const auto& s : panel.series)
    for (const auto& point : s.points)
      integral = integral && point.first == std::round(point.first);
  for (double t : nice_ticks(xr.lo, xr.hi, 4)) {
    if (integral && t != std::round(t)) continue;
    svg.line(sx(t), py + kPlotHeight, sx(t), py + kPlotHeight + 4, "#444444");
    svg.text(sx(t), py + kPlotHeight + 16, tick_label(t), 10, "middle");
  }
  svg.rect(px, py, kPlotWidth, kPlotHeight, "none", "#444444");
  svg.text(px + kPlotWidth / 2, py + kPlotHeight + 34, panel.x_label, 11, "middle");
  svg.text(x0 + 16, py + kPlotHeight / 2, panel.y_label, 11, "middle", "#222", -90);
  for (const auto& s : panel.series) {
    const std::string color = series_color(static_cast<std::size_t>(
        std::find(labels.begin(), labels.end(), s.label) - labels.begin()));
    std::vector<std::pair<double, double>> points;
    for (const auto& [x, y] : s.points)
      if (!std::isnan(y)) points.emplace_back(sx(x), sy(y));
    if (points.size() > 1) svg.polyline(points, color);
    for (const auto& [x, y] : points) svg.circle(x, y, 3, color);
  }
}

}  // namespace

std::string line_chart_svg(const std::string& title, const std::vector<Panel>& panels) {
  std::vector<std::string> labels;
  for (const auto& p : panels)
    for (const auto& s : p.series)
      if (std::find(labels.begin(), labels.end(), s.label) == labels.end())
        labels.push_back(s.label);
  const double legend_x = 10 + kPanelWidth * static_cast<double>(panels.size());
  const double height = std::max(kPanelHeight, kTop + 20.0 * static_cast<double>(labels.size()));
  Svg svg(legend_x + 200, height, title);
  svg.text(10, 20, title, 15);
  for (std::size_t i = 0; i < panels.size(); ++i)
    draw_panel(svg, panels[i], 10 + kPanelWidth * static_cast<double>(i), labels);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double y = kTop + 20.0 * static_cast<double>(i);
    svg.line(legend_x, y, legend_x + 20, y, series_color(i), 3);
    svg.text(legend_x + 26, y + 4, labels[i], 11);
  }
  return svg.str();
}

std::string heat_map_svg(const HeatMap& map) {
  constexpr double kCellW = 70, kCellH = 36, kMapLeft = 90, kMapTop = 60;
  Range r;
  for (const auto& row : map.values)
    for (double v : row) r.add(v);
  const bool empty = r.lo > r.hi;
  const double lo = empty ? 0 : r.lo, span = empty || r.hi - r.lo < 1e-12 ? 1 : r.hi - r.lo;
  const double width = kMapLeft + kCellW * static_cast<double>(map.xs.size());
  const double height = kMapTop + kCellH * static_cast<double>(map.ys.size());
  Svg svg(std::max(width + 110, 20 + 7.0 * static_cast<double>(map.title.size())), height + 50,
          map.title);
  svg.text(10, 22, map.title, 14);
  for (std::size_t yi = 0; yi < map.ys.size(); ++yi) {
    // The largest y on top, as on a plot's axis.
    const double y = kMapTop + kCellH * static_cast<double>(map.ys.size() - 1 - yi);
    svg.text(kMapLeft - 8, y + kCellH / 2 + 4, tick_label(map.ys[yi]), 11, "end");
    for (std::size_t xi = 0; xi < map.xs.size(); ++xi) {
      const double x = kMapLeft + kCellW * static_cast<double>(xi);
      const double v = map.values.at(yi).at(xi);
      const double t = (v - lo) / span;
      svg.rect(x, y, kCellW, kCellH, std::isnan(v) ? "#eeeeee" : scale_color(t), "#ffffff");
      svg.text(x + kCellW / 2, y + kCellH / 2 + 4, std::isnan(v) ? "-" : percent(v), 11, "middle",
               std::isnan(v) ? "#888888" : text_color_on_scale(t));
    }
  }
  for (std::size_t xi = 0; xi < map.xs.size(); ++xi)
    svg.text(kMapLeft + kCellW * (static_cast<double>(xi) + 0.5), height + 16,
             tick_label(map.xs[xi]), 11, "middle");
  svg.text(kMapLeft + (width - kMapLeft) / 2, height + 36, map.x_label, 12, "middle");
  svg.text(24, kMapTop + (height - kMapTop) / 2, map.y_label, 12, "middle", "#222", -90);
  // Colour bar: the lowest value at the bottom.
  const double bar_x = width + 20, bar_h = std::max(kCellH, height - kMapTop);
  for (int k = 0; k < 20; ++k)
    svg.rect(bar_x, kMapTop + bar_h * (19 - k) / 20.0, 14, bar_h / 20.0 + 0.5,
             scale_color(k / 19.0));
  if (!empty) {
    svg.text(bar_x + 18, kMapTop + 10, percent(r.hi), 10);
    svg.text(bar_x + 18, kMapTop + bar_h, percent(r.lo), 10);
  }
  return svg.str();
}

}  // namespace pkd::report
