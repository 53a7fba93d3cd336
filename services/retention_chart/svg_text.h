// File: services/retention_chart/svg_text.h
//
// The text pieces of an SVG document: XML escaping, numbers written the same
// way on every machine, and a rough width of a line of text (an SVG has no
// font metrics until a viewer draws it, so the layout estimates).
//
// Example:
//   absl::StrAppend(&out, "<text x=\"", Number(x), "\">",
//                   EscapeXml(FitWidth(label, 13, 200)), "</text>");
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace makegood::retention_chart {

// `text` safe as XML character data and as a double- or single-quoted
// attribute value: & < > " ' become entities, and the control characters
// XML 1.0 forbids (all below 0x20 but tab, line feed and carriage return)
// become '?'.
std::string EscapeXml(absl::string_view text);

// A coordinate or length: at most two decimals, trailing zeros dropped
// ("12", "12.5", "12.25"); never "-0". Independent of the locale.
std::string Number(double value);

// A share in [0, 1] as a percentage with one decimal: 0.625 -> "62.5 %".
std::string Percent(double share);

// A count (>= 0) with thousands separators: 1204 -> "1,204".
std::string Count(int64_t count);

// The number of characters (UTF-8 code points) in `text`.
int CodePoints(absl::string_view text);

// Estimated width in pixels of `text` drawn at `font_size` in a sans-serif
// font (regular weight); errs on the wide side.
double TextWidth(absl::string_view text, double font_size);

// `text` cut to at most `max_code_points` characters, the last one "…" when
// it was cut. Never splits a UTF-8 sequence.
std::string Ellipsize(absl::string_view text, int max_code_points);

// `text`, ellipsized as little as it takes for TextWidth to be at most
// `max_width` (but never below one character and the ellipsis).
std::string FitWidth(absl::string_view text, double font_size,
                     double max_width);

// `text` broken at spaces into lines of at most `max_width` by TextWidth; a
// word wider than a line on its own is ellipsized (FitWidth). No lines for
// an empty `text`.
std::vector<std::string> WrapText(absl::string_view text, double font_size,
                                  double max_width);

}  // namespace makegood::retention_chart
