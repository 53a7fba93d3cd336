#include "tests/unit/retention_chart/svg_reader.h"

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "services/core/status_macros.h"

namespace makegood::retention_chart::testing {
namespace {

absl::Status Problem(size_t offset, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("at ", offset, ": ", what));
}

// Character data or an attribute value with its entities replaced.
absl::StatusOr<std::string> Decode(absl::string_view raw, size_t offset) {
  static const std::map<std::string, std::string, std::less<>> kEntities = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '<' || raw[i] == '>') {
      return Problem(offset + i, "unescaped < or >");
    }
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    const size_t semicolon = raw.find(';', i);
    auto entity = kEntities.find(raw.substr(i + 1, semicolon - i - 1));
    if (semicolon == absl::string_view::npos || entity == kEntities.end()) {
      return Problem(offset + i, "& that starts no predefined entity");
    }
    out += entity->second;
    i = semicolon;
  }
  return out;
}

// Reads `name="value"` pairs of a start tag's body into `element`.
absl::Status ReadAttributes(absl::string_view body, size_t offset,
                            SvgElement& element) {
  size_t i = 0;
  while (true) {
    while (i < body.size() && absl::ascii_isspace(body[i])) ++i;
    if (i == body.size()) return absl::OkStatus();
    const size_t equals = body.find('=', i);
    if (equals == absl::string_view::npos || equals + 1 >= body.size() ||
        body[equals + 1] != '"') {
      return Problem(offset + i, "attribute is not name=\"value\"");
    }
    const size_t close = body.find('"', equals + 2);
    if (close == absl::string_view::npos) {
      return Problem(offset + i, "unterminated attribute value");
    }
    const std::string key(body.substr(i, equals - i));
    MAKEGOOD_ASSIGN_OR_RETURN(
        std::string value,
        Decode(body.substr(equals + 2, close - equals - 2), offset + equals));
    if (!element.attributes.emplace(key, std::move(value)).second) {
      return Problem(offset + i, absl::StrCat("attribute ", key, " twice"));
    }
    i = close + 1;
  }
}

// The reader's state: the document so far and the open elements.
class Reader {
 public:
  explicit Reader(absl::string_view text) : text_(text) {}

  absl::StatusOr<SvgDocument> Read() {
    size_t pos = 0;
    if (absl::StartsWith(text_, "<?xml")) {
      pos = text_.find("?>");
      if (pos == absl::string_view::npos) return Problem(0, "unclosed <?xml");
      pos += 2;
    }
    while (pos < text_.size()) {
      const size_t lt = text_.find('<', pos);
      MAKEGOOD_RETURN_IF_ERROR(Characters(pos, lt));
      if (lt == absl::string_view::npos) break;
      const size_t gt = text_.find('>', lt);
      if (gt == absl::string_view::npos) return Problem(lt, "unclosed tag");
      MAKEGOOD_RETURN_IF_ERROR(Tag(text_.substr(lt + 1, gt - lt - 1), lt));
      pos = gt + 1;
    }
    if (!open_.empty()) {
      return Problem(text_.size(),
                     absl::StrCat("<", doc_.elements[open_.back()].name,
                                  "> is never closed"));
    }
    if (doc_.elements.empty()) return Problem(0, "no element");
    return std::move(doc_);
  }

 private:
  // Text between tags: only white space outside the root.
  absl::Status Characters(size_t from, size_t to) {
    const absl::string_view raw = text_.substr(from, to - from);
    if (open_.empty()) {
      if (!absl::StripAsciiWhitespace(raw).empty()) {
        return Problem(from, "text outside the root element");
      }
      return absl::OkStatus();
    }
    MAKEGOOD_ASSIGN_OR_RETURN(const std::string decoded, Decode(raw, from));
    for (const int index : open_) doc_.elements[index].text += decoded;
    return absl::OkStatus();
  }

  absl::Status Tag(absl::string_view tag, size_t offset) {
    if (absl::StartsWith(tag, "/")) {
      if (open_.empty() || doc_.elements[open_.back()].name != tag.substr(1)) {
        return Problem(offset,
                       absl::StrCat("unbalanced </", tag.substr(1), ">"));
      }
      open_.pop_back();
      return absl::OkStatus();
    }
    const bool empty = absl::ConsumeSuffix(&tag, "/");
    size_t name_end = 0;
    while (name_end < tag.size() && !absl::ascii_isspace(tag[name_end])) {
      ++name_end;
    }
    if (name_end == 0 || !absl::ascii_isalpha(tag[0])) {
      return Problem(offset, "not a start tag");
    }
    if (open_.empty() && !doc_.elements.empty()) {
      return Problem(offset, "a second root element");
    }
    SvgElement element;
    element.name = std::string(tag.substr(0, name_end));
    element.parent = open_.empty() ? -1 : open_.back();
    MAKEGOOD_RETURN_IF_ERROR(
        ReadAttributes(tag.substr(name_end), offset + 1 + name_end, element));
    doc_.elements.push_back(std::move(element));
    if (!empty) open_.push_back(static_cast<int>(doc_.elements.size()) - 1);
    return absl::OkStatus();
  }

  absl::string_view text_;
  SvgDocument doc_;
  std::vector<int> open_;
};

}  // namespace

std::string SvgElement::Attribute(const std::string& key) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? "" : it->second;
}

double SvgElement::Number(const std::string& key) const {
  double value = 0;
  if (!absl::SimpleAtod(Attribute(key), &value)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return value;
}

std::vector<const SvgElement*> SvgDocument::Find(absl::string_view name,
                                                 absl::string_view cls) const {
  std::vector<const SvgElement*> found;
  for (const SvgElement& e : elements) {
    if (e.name == name && e.Attribute("class") == cls) found.push_back(&e);
  }
  return found;
}

absl::StatusOr<SvgDocument> ReadSvg(absl::string_view text) {
  return Reader(text).Read();
}

}  // namespace makegood::retention_chart::testing
