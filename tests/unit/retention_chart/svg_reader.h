// File: tests/unit/retention_chart/svg_reader.h
//
// A small strict reader for the SVG the retention chart writes, standing in
// for an XML parser (libxml2 is not on the build machines): one root
// element, balanced start and end tags, name="value" attributes, and only
// the five predefined entities. Enough to check the chart's structure and
// geometry; not a general XML parser (no comments, CDATA or DTDs).
//
// Example:
//   absl::StatusOr<SvgDocument> doc = ReadSvg(svg);
//   for (const SvgElement* bar : doc->Find("rect", "bar")) {
//     bar->Number("width");
//   }
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace makegood::retention_chart::testing {

struct SvgElement {
  std::string name;
  // Values decoded (&amp; -> &).
  std::map<std::string, std::string> attributes;
  // All character data inside the element, nested elements' included,
  // decoded, without the tags.
  std::string text;
  // Index of the enclosing element in SvgDocument::elements; -1 for the root.
  int parent = -1;

  // The attribute, "" when absent.
  std::string Attribute(const std::string& key) const;
  // The attribute as a number; NaN when absent or not a number.
  double Number(const std::string& key) const;
};

struct SvgDocument {
  // In document order; elements[0] is the root.
  std::vector<SvgElement> elements;

  // Elements named `name` whose class attribute is `cls`, in document order.
  std::vector<const SvgElement*> Find(absl::string_view name,
                                      absl::string_view cls) const;
};

// INVALID_ARGUMENT naming the byte offset and what is wrong when `text` is
// not one well-formed element (after an optional <?xml ...?> declaration).
absl::StatusOr<SvgDocument> ReadSvg(absl::string_view text);

}  // namespace makegood::retention_chart::testing
