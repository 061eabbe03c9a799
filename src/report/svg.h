#pragma once
// A minimal SVG 1.1 writer for the report's plots: shapes and text with XML escaping, "nice"
// axis ticks and colour scales. No dependencies.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pkd::report {

// &, <, >, " and ' as XML entities.
std::string xml_escape(std::string_view text);

class Svg {
 public:
  Svg(double width, double height, const std::string& title);
  void rect(double x, double y, double w, double h, const std::string& fill,
            const std::string& stroke = "none");
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            bool dashed = false);
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                double width = 2);
  void circle(double cx, double cy, double r, const std::string& fill);
  // anchor: start | middle | end; rotate: degrees around (x, y).
  void text(double x, double y, const std::string& content, double size = 12,
            const std::string& anchor = "start", const std::string& fill = "#222",
            double rotate = 0);
  // The complete document.
  std::string str() const;

 private:
  double width_, height_;
  std::string title_, body_;
};

// About `target` round tick values covering [lo, hi] (steps 1, 2, 5 x 10^k).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A tick label without trailing zeros: "0.5", "100", "1e-05".
std::string tick_label(double value);
// Colour of the i-th series (a 10-colour qualitative palette, repeating).
std::string series_color(std::size_t i);
// Sequential colour scale for t in [0, 1] (viridis-like: dark blue -> green -> yellow).
std::string scale_color(double t);
// Black or white, whichever reads on `scale_color(t)`.
std::string text_color_on_scale(double t);

}  // namespace pkd::report
