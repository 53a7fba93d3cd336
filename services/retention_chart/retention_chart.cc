#include "services/retention_chart/retention_chart.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/core/status_macros.h"
#include "services/retention_chart/chart_data.h"
#include "services/retention_chart/svg_text.h"

namespace makegood::retention_chart {
namespace {

namespace v1 = ::makegood::v1;

// The canvas. Everything is laid out in pixels from the top left.
constexpr double kWidth = 960;
constexpr double kMarginLeft = 24;
constexpr double kMarginRight = 24;
constexpr double kMarginBottom = 16;
constexpr char kFontFamily[] = "DejaVu Sans, Helvetica, Arial, sans-serif";

// Header: the title's baseline, then the subtitle and the note kHeaderGap
// apart (each may wrap); the legend starts kLegendGap below the last
// baseline.
constexpr double kTitleBaseline = 34;
constexpr double kHeaderGap = 22;
constexpr double kLegendGap = 14;

// Legend: a swatch and its label per series, wrapped into rows.
constexpr double kSwatchSize = 12;
constexpr double kSwatchTextGap = 6;
constexpr double kLegendItemGap = 24;
constexpr double kLegendRowHeight = 22;

// Rows: the bars of a group sit kBarGap apart, groups kGroupGap apart (the
// shaded bands of every other group fill the gaps).
constexpr double kBarHeight = 18;
constexpr double kBarGap = 4;
constexpr double kGroupGap = 20;

// Columns: group labels (as wide as the widest, within limits), the plot,
// then room for the value text of a bar that reaches 100 %.
constexpr double kMinLabelColumn = 80;
constexpr double kMaxLabelColumn = 240;
constexpr double kLabelGap = 12;
constexpr double kValueColumn = 150;
constexpr double kValueGap = 8;

// Interval whiskers: a dark line with end caps on a white halo, so they show
// on any bar colour and on the background.
constexpr double kCapHeight = 10;
constexpr double kWhiskerWidth = 1.5;
constexpr double kHaloWidth = 4;
// The value text sits on a plate of the row's background colour, so that
// gridlines do not cross it; the plate reaches this far past the text.
constexpr double kPlatePadding = 3;
constexpr double kValueSpacing = 6;  // Between the rate and "n = ...".

// The rate axis below the plot (or the no-data message in its place), then
// the caption kCaptionGap below.
constexpr int kGridStepPercent = 10;
constexpr double kTickBaselineGap = 16;
constexpr double kNoDataGap = 22;
constexpr double kCaptionGap = 26;

// Okabe-Ito, strongest first; cycled when there are more series. (Whiskers
// have a white halo, so they show on the black bars too.)
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                    "#56B4E9", "#D55E00", "#F0E442", "#000000"};
constexpr char kBackground[] = "#ffffff";
constexpr char kBandColour[] = "#f3f3f3";
constexpr char kGridColour[] = "#d9d9d9";
constexpr char kAxisColour[] = "#8c8c8c";
constexpr char kInk[] = "#1a1a1a";
constexpr char kMutedInk[] = "#4d4d4d";

struct TextStyle {
  double size;
  const char* fill;
  bool bold;
  double line_height;  // From one baseline to the next when wrapped.
};
constexpr TextStyle kTitleStyle{20, kInk, true, 26};
constexpr TextStyle kSubtitleStyle{13, kMutedInk, false, 18};
constexpr TextStyle kLegendStyle{13, kInk, false, 18};
constexpr TextStyle kLabelStyle{13, kInk, false, 18};
constexpr TextStyle kValueStyle{12, kInk, false, 16};
constexpr TextStyle kTickStyle{11, kMutedInk, false, 16};
constexpr TextStyle kCaptionStyle{12, kMutedInk, false, 18};
// Bold glyphs are about this much wider than regular ones.
constexpr double kBoldWidthFactor = 1.1;
// A baseline this many font sizes below a row's middle centres capitals and
// digits on it.
constexpr double kBaselineDrop = 0.35;

enum class Anchor { kStart, kMiddle, kEnd };

// The baseline that centres a line of text of `style` on `centre`.
double CentredBaseline(double centre, const TextStyle& style) {
  return centre + style.size * kBaselineDrop;
}

double StyledWidth(absl::string_view text, const TextStyle& style) {
  return TextWidth(text, style.size) * (style.bold ? kBoldWidthFactor : 1);
}

std::string Rect(absl::string_view cls, double x, double y, double width,
                 double height, absl::string_view fill) {
  return absl::StrCat("<rect class=\"", cls, "\" x=\"", Number(x), "\" y=\"",
                      Number(y), "\" width=\"", Number(width), "\" height=\"",
                      Number(height), "\" fill=\"", fill, "\"/>\n");
}

std::string Line(absl::string_view cls, double x1, double y1, double x2,
                 double y2, absl::string_view stroke, double width) {
  return absl::StrCat("<line class=\"", cls, "\" x1=\"", Number(x1), "\" y1=\"",
                      Number(y1), "\" x2=\"", Number(x2), "\" y2=\"",
                      Number(y2), "\" stroke=\"", stroke, "\" stroke-width=\"",
                      Number(width), "\"/>\n");
}

// A <text> element around `markup`, which must already be escaped.
std::string TextMarkup(absl::string_view cls, const TextStyle& style,
                       Anchor anchor, double x, double y,
                       absl::string_view markup) {
  const char* anchor_name = anchor == Anchor::kStart    ? "start"
                            : anchor == Anchor::kMiddle ? "middle"
                                                        : "end";
  return absl::StrCat(
      "<text class=\"", cls, "\" x=\"", Number(x), "\" y=\"", Number(y),
      "\" font-size=\"", Number(style.size), "\" fill=\"", style.fill, "\"",
      style.bold ? " font-weight=\"bold\"" : "", " text-anchor=\"", anchor_name,
      "\">", markup, "</text>\n");
}

std::string Text(absl::string_view cls, const TextStyle& style, Anchor anchor,
                 double x, double y, absl::string_view text) {
  return TextMarkup(cls, style, anchor, x, y, EscapeXml(text));
}

const char* Colour(int series_index) {
  return kPalette[series_index % std::size(kPalette)];
}

double GroupHeight(const ChartGroup& group) {
  const double bars = static_cast<double>(group.bars.size());
  return bars * kBarHeight + (bars - 1) * kBarGap;
}

std::string DefaultTitle(const ChartData& data) {
  std::string title = absl::StrCat("Reorder rate within ", data.window_days,
                                   " days of a trouble");
  if (!data.group_dimension.empty()) {
    absl::StrAppend(&title, ", by ", data.group_dimension);
  }
  if (!data.series_dimension.empty()) {
    absl::StrAppend(&title, " and ", data.series_dimension);
  }
  return title;
}

std::string Subtitle(const ChartData& data) {
  int bars = 0;
  for (const ChartGroup& group : data.groups) bars += group.bars.size();
  return absl::StrCat(Count(data.troubles), " trouble",
                      data.troubles == 1 ? "" : "s", " whose ",
                      data.window_days, "-day window has closed, in ", bars,
                      " cohort", bars == 1 ? "" : "s");
}

// "REFUND / exp1:control: 62.5 % reordered within 30 days (412 of 660
// troubles; 95 % interval 58.7 % to 66.1 %)".
std::string Tooltip(const ChartGroup& group, const ChartBar& bar, int days) {
  return absl::StrCat(group.label, bar.series.empty() ? "" : " / ", bar.series,
                      ": ", Percent(bar.rate), " reordered within ", days,
                      " days (", Count(bar.reordered), " of ",
                      Count(bar.troubles), " troubles; 95 % interval ",
                      Percent(bar.low), " to ", Percent(bar.high), ")");
}

// Writes the chart of one ChartData: the header, the legend, then the plot,
// top to bottom, each part advancing y_. Use once.
class ChartWriter {
 public:
  ChartWriter(const ChartData& data, const ChartOptions& options)
      : data_(data), options_(options) {}

  std::string Write() {
    WriteHeader();
    WriteLegend();
    if (data_.groups.empty()) {
      WriteNoData();
    } else {
      LayOutPlot();
      WriteBands();
      WriteGrid();
      WriteGroups();
      WriteAxis();
    }
    WriteCaption();
    return Document(y_ + kMarginBottom);
  }

 private:
  double ContentRight() const { return kWidth - kMarginRight; }
  double X(double share) const {
    return plot_left_ + share * (plot_right_ - plot_left_);
  }

  // A header or caption paragraph from the baseline y_, wrapped to the
  // canvas width; y_ ends on the last line's baseline.
  void WriteLines(absl::string_view cls, const TextStyle& style,
                  absl::string_view text) {
    const double width =
        (ContentRight() - kMarginLeft) / (style.bold ? kBoldWidthFactor : 1);
    const std::vector<std::string> lines = WrapText(text, style.size, width);
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) y_ += style.line_height;
      body_ += Text(cls, style, Anchor::kStart, kMarginLeft, y_, lines[i]);
    }
  }

  void WriteHeader() {
    y_ = kTitleBaseline;
    WriteLines("title", kTitleStyle, Title());
    y_ += kHeaderGap;
    WriteLines("subtitle", kSubtitleStyle, Subtitle(data_));
    if (!options_.note.empty()) {
      y_ += kSubtitleStyle.line_height;
      WriteLines("note", kSubtitleStyle, options_.note);
    }
    y_ += kLegendGap;
  }

  std::string Title() const {
    return options_.title.empty() ? DefaultTitle(data_) : options_.title;
  }

  // "arm:" then a swatch and a name per series, wrapping into rows. None
  // when the cohorts have a single label.
  void WriteLegend() {
    if (data_.series_dimension.empty() || data_.series.empty()) return;
    const double centre = y_ + kLegendRowHeight / 2;
    const std::string heading = absl::StrCat(data_.series_dimension, ":");
    body_ += Text("legend-heading", kSubtitleStyle, Anchor::kStart, kMarginLeft,
                  CentredBaseline(centre, kSubtitleStyle), heading);
    const double first_x =
        kMarginLeft + StyledWidth(heading, kSubtitleStyle) + kSwatchTextGap * 2;
    double x = first_x;
    double row_centre = centre;
    for (size_t i = 0; i < data_.series.size(); ++i) {
      const std::string name = FitWidth(data_.series[i], kLegendStyle.size,
                                        ContentRight() - first_x - kSwatchSize);
      const double item = kSwatchSize + kSwatchTextGap +
                          StyledWidth(name, kLegendStyle) + kLegendItemGap;
      if (x > first_x && x + item - kLegendItemGap > ContentRight()) {
        x = first_x;
        row_centre += kLegendRowHeight;
      }
      WriteLegendItem(name, static_cast<int>(i), x, row_centre);
      x += item;
    }
    y_ = row_centre + kLegendRowHeight / 2 + kLegendGap / 2;
  }

  void WriteLegendItem(const std::string& name, int series_index, double x,
                       double centre) {
    body_ += Rect("swatch", x, centre - kSwatchSize / 2, kSwatchSize,
                  kSwatchSize, Colour(series_index));
    body_ += Text("legend", kLegendStyle, Anchor::kStart,
                  x + kSwatchSize + kSwatchTextGap,
                  CentredBaseline(centre, kLegendStyle), name);
  }

  void WriteNoData() {
    y_ += kNoDataGap;
    WriteLines("no-data", kLabelStyle,
               absl::StrCat("No cohort has a trouble whose ", data_.window_days,
                            "-day window has closed."));
  }

  // The label column as wide as the widest group label, within limits; the
  // groups' tops from y_ down.
  void LayOutPlot() {
    double widest = 0;
    for (const ChartGroup& group : data_.groups) {
      widest = std::max(widest, StyledWidth(group.label, kLabelStyle));
    }
    label_right_ =
        kMarginLeft + std::clamp(widest, kMinLabelColumn, kMaxLabelColumn);
    plot_left_ = label_right_ + kLabelGap;
    plot_right_ = ContentRight() - kValueColumn;
    plot_top_ = y_;
    double top = plot_top_ + kGroupGap / 2;
    for (const ChartGroup& group : data_.groups) {
      group_tops_.push_back(top);
      top += GroupHeight(group) + kGroupGap;
    }
    plot_bottom_ = top - kGroupGap / 2;
  }

  // Every other group on a light band, across the canvas.
  static bool Banded(size_t group_index) { return group_index % 2 == 0; }

  void WriteBands() {
    for (size_t i = 0; i < data_.groups.size(); ++i) {
      if (!Banded(i)) continue;
      body_ += Rect("band", kMarginLeft, group_tops_[i] - kGroupGap / 2,
                    ContentRight() - kMarginLeft,
                    GroupHeight(data_.groups[i]) + kGroupGap, kBandColour);
    }
  }

  void WriteGrid() {
    for (int percent = 0; percent <= 100; percent += kGridStepPercent) {
      const double x = X(percent / 100.0);
      const bool axis = percent == 0;
      body_ += Line(axis ? "axis" : "grid", x, plot_top_, x, plot_bottom_,
                    axis ? kAxisColour : kGridColour, 1);
    }
  }

  void WriteGroups() {
    for (size_t i = 0; i < data_.groups.size(); ++i) {
      const ChartGroup& group = data_.groups[i];
      const double top = group_tops_[i];
      body_ += "<g class=\"group\">\n";
      body_ += Text("group-label", kLabelStyle, Anchor::kEnd, label_right_,
                    CentredBaseline(top + GroupHeight(group) / 2, kLabelStyle),
                    FitWidth(group.label, kLabelStyle.size, kMaxLabelColumn));
      const char* ground = Banded(i) ? kBandColour : kBackground;
      for (size_t b = 0; b < group.bars.size(); ++b) {
        WriteBar(group, group.bars[b], top + b * (kBarHeight + kBarGap),
                 ground);
      }
      body_ += "</g>\n";
    }
  }

  // `ground` is the colour behind the bar's row.
  void WriteBar(const ChartGroup& group, const ChartBar& bar, double top,
                const char* ground) {
    const double centre = top + kBarHeight / 2;
    body_ += "<g class=\"cohort\">\n<title>";
    body_ += EscapeXml(Tooltip(group, bar, data_.window_days));
    body_ += "</title>\n";
    body_ += Rect("bar", plot_left_, top, X(bar.rate) - plot_left_, kBarHeight,
                  Colour(bar.series_index));
    WriteInterval(bar, centre);
    WriteValue(bar, std::max(X(bar.rate), X(bar.high)) + kValueGap, top,
               ground);
    body_ += "</g>\n";
  }

  // "62.0 %  n = 476" from `x`, on a plate of `ground`.
  void WriteValue(const ChartBar& bar, double x, double top,
                  const char* ground) {
    const std::string rate = Percent(bar.rate);
    const std::string n = absl::StrCat("n = ", Count(bar.troubles));
    const double width = TextWidth(rate, kValueStyle.size) * kBoldWidthFactor +
                         kValueSpacing + TextWidth(n, kValueStyle.size);
    body_ += Rect("plate", x - kPlatePadding, top, width + 2 * kPlatePadding,
                  kBarHeight, ground);
    body_ += TextMarkup(
        "value", kValueStyle, Anchor::kStart, x,
        CentredBaseline(top + kBarHeight / 2, kValueStyle),
        absl::StrCat("<tspan font-weight=\"bold\">", EscapeXml(rate),
                     "</tspan><tspan dx=\"", Number(kValueSpacing),
                     "\" fill=\"", kMutedInk, "\">", EscapeXml(n), "</tspan>"));
  }

  // The whisker from the interval's low end to its high end, with caps.
  void WriteInterval(const ChartBar& bar, double centre) {
    const double low = X(bar.low), high = X(bar.high);
    const double cap_top = centre - kCapHeight / 2;
    const double cap_bottom = centre + kCapHeight / 2;
    for (const bool halo : {true, false}) {
      const char* stroke = halo ? kBackground : kInk;
      const double width = halo ? kHaloWidth : kWhiskerWidth;
      const std::string prefix = halo ? "halo-" : "";
      body_ +=
          Line(prefix + "whisker", low, centre, high, centre, stroke, width);
      body_ +=
          Line(prefix + "cap", low, cap_top, low, cap_bottom, stroke, width);
      body_ +=
          Line(prefix + "cap", high, cap_top, high, cap_bottom, stroke, width);
    }
  }

  void WriteAxis() {
    y_ = plot_bottom_ + kTickBaselineGap;
    for (int percent = 0; percent <= 100; percent += kGridStepPercent) {
      body_ += Text("tick", kTickStyle, Anchor::kMiddle, X(percent / 100.0), y_,
                    absl::StrCat(percent, " %"));
    }
  }

  void WriteCaption() {
    y_ += kCaptionGap;
    WriteLines(
        "caption", kCaptionStyle,
        absl::StrCat("Bar: share of troubles whose member had another "
                     "order delivered within ",
                     data_.window_days, " days; n: troubles in the cohort."));
    y_ += kCaptionStyle.line_height;
    WriteLines("caption", kCaptionStyle,
               "Whisker: 95 % Wilson score interval of that share.");
    if (data_.left_out > 0) {
      y_ += kCaptionStyle.line_height;
      WriteLines(
          "caption", kCaptionStyle,
          absl::StrCat("Not drawn: ", data_.left_out, " cohort",
                       data_.left_out == 1 ? "" : "s", " with no closed ",
                       data_.window_days, "-day window yet."));
    }
  }

  std::string Document(double height) const {
    const std::string title = Title();
    return absl::StrCat(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"",
        Number(kWidth), "\" height=\"", Number(height), "\" viewBox=\"0 0 ",
        Number(kWidth), " ", Number(height), "\" font-family=\"", kFontFamily,
        "\">\n<title>", EscapeXml(title), "</title>\n<desc>",
        EscapeXml(Subtitle(data_)), "</desc>\n",
        Rect("background", 0, 0, kWidth, height, kBackground), body_,
        "</svg>\n");
  }

  const ChartData& data_;
  const ChartOptions& options_;
  std::string body_;
  double y_ = 0;  // The baseline or top the next part starts from.
  double label_right_ = 0;
  double plot_left_ = 0;
  double plot_right_ = 0;
  double plot_top_ = 0;
  double plot_bottom_ = 0;
  std::vector<double> group_tops_;
};

}  // namespace

absl::StatusOr<std::string> RenderRetentionChart(
    const v1::GetRetentionStatsResponse& response,
    const ChartOptions& options) {
  MAKEGOOD_ASSIGN_OR_RETURN(ChartData data,
                            CollectChartData(response, options.window_days));
  return ChartWriter(data, options).Write();
}

}  // namespace makegood::retention_chart
