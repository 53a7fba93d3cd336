#include "services/retention_chart/svg_text.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace makegood::retention_chart {
namespace {

// Advance of a glyph as a share of the font size, by kind of character,
// measured on DejaVu Sans (the widest of the fonts the chart asks for; the
// usual one on Linux) and rounded up.
constexpr double kUpperWidth = 0.70;
constexpr double kLowerWidth = 0.61;
constexpr double kDigitWidth = 0.64;
constexpr double kSpaceWidth = 0.32;
constexpr double kPunctuationWidth = 0.50;
constexpr double kOtherWidth = 0.70;  // Outside ASCII.

double GlyphWidth(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x80) return kOtherWidth;
  if (absl::ascii_isupper(u)) return kUpperWidth;
  if (absl::ascii_islower(u)) return kLowerWidth;
  if (absl::ascii_isdigit(u)) return kDigitWidth;
  if (c == ' ') return kSpaceWidth;
  return kPunctuationWidth;
}

constexpr char kEllipsis[] = "\u2026";

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

std::string EscapeXml(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += c;
        break;
      default:
        out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
    }
  }
  return out;
}

std::string Number(double value) {
  std::string text = absl::StrFormat("%.2f", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string Percent(double share) {
  return absl::StrFormat("%.1f %%", share * 100);
}

std::string Count(int64_t count) {
  const std::string digits = absl::StrCat(count);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

int CodePoints(absl::string_view text) {
  int n = 0;
  for (const char c : text) n += IsContinuationByte(c) ? 0 : 1;
  return n;
}

double TextWidth(absl::string_view text, double font_size) {
  double ems = 0;
  for (const char c : text) ems += IsContinuationByte(c) ? 0 : GlyphWidth(c);
  return std::ceil(ems * font_size);
}

std::string Ellipsize(absl::string_view text, int max_code_points) {
  if (CodePoints(text) <= max_code_points) return std::string(text);
  if (max_code_points < 1) return "";
  // Keep max_code_points - 1 characters, then the ellipsis.
  int kept = 0;
  size_t end = 0;
  while (end < text.size()) {
    if (!IsContinuationByte(text[end]) && kept++ == max_code_points - 1) break;
    ++end;
  }
  return absl::StrCat(text.substr(0, end), kEllipsis);
}

std::string FitWidth(absl::string_view text, double font_size,
                     double max_width) {
  int keep = CodePoints(text);
  std::string fitted(text);
  while (keep > 1 && TextWidth(fitted, font_size) > max_width) {
    fitted = Ellipsize(text, --keep);
  }
  return fitted;
}

std::vector<std::string> WrapText(absl::string_view text, double font_size,
                                  double max_width) {
  std::vector<std::string> lines;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    std::string longer =
        line.empty() ? std::string(word) : absl::StrCat(line, " ", word);
    if (line.empty() || TextWidth(longer, font_size) <= max_width) {
      line = std::move(longer);
      continue;
    }
    lines.push_back(FitWidth(line, font_size, max_width));
    line = std::string(word);
  }
  if (!line.empty()) lines.push_back(FitWidth(line, font_size, max_width));
  return lines;
}

}  // namespace makegood::retention_chart
