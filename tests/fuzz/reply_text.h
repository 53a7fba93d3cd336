// File: tests/fuzz/reply_text.h
//
// A readable text form of Redis reply trees, for the script-reply fuzzer and
// its seed corpus. One reply per line; an array takes the next N replies as
// its elements:
//   *N     array of N elements          :N     integer
//   $text  bulk string                  +text  status
//   -text  error                        _      nil
// Text is C-escaped (\n, \t, \x00, \\ ...): protobuf bytes fit on one line.
// E.g. the reply {"FRESH", 12, nil}:  *3 / $FRESH / :12 / _
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_reply.h"

namespace makegood::fuzz {

class ReplyText {
 public:
  // The first reply in `text`, or nullopt if it is malformed or too big.
  static std::optional<redis::RedisReply> Parse(absl::string_view text) {
    ReplyText parser(absl::StrSplit(text, '\n'));
    return parser.Next(0);
  }

 private:
  static constexpr int kMaxDepth = 8;
  static constexpr size_t kMaxNodes = 4096;
  static constexpr int64_t kMaxArray = 256;

  explicit ReplyText(std::vector<absl::string_view> lines)
      : lines_(std::move(lines)) {}

  std::optional<redis::RedisReply> Next(int depth) {
    if (depth > kMaxDepth || next_ >= lines_.size() || ++nodes_ > kMaxNodes) {
      return std::nullopt;
    }
    absl::string_view line = lines_[next_++];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return std::nullopt;
    const char kind = line.front();
    line.remove_prefix(1);
    redis::RedisReply reply;
    switch (kind) {
      case '_':
        return reply;
      case ':': {
        int64_t value = 0;
        if (!absl::SimpleAtoi(line, &value)) return std::nullopt;
        return redis::RedisReply::Integer(value);
      }
      case '$':
      case '+':
      case '-': {
        std::string text;
        if (!absl::CUnescape(line, &text)) return std::nullopt;
        if (kind == '$') return redis::RedisReply::String(std::move(text));
        if (kind == '+') return redis::RedisReply::Status(std::move(text));
        reply.type = redis::RedisReply::Type::kError;
        reply.str = std::move(text);
        return reply;
      }
      case '*': {
        int64_t n = 0;
        if (!absl::SimpleAtoi(line, &n) || n < 0 || n > kMaxArray) {
          return std::nullopt;
        }
        std::vector<redis::RedisReply> elements;
        for (int64_t i = 0; i < n; ++i) {
          std::optional<redis::RedisReply> element = Next(depth + 1);
          if (!element.has_value()) return std::nullopt;
          elements.push_back(*std::move(element));
        }
        return redis::RedisReply::Array(std::move(elements));
      }
      default:
        return std::nullopt;
    }
  }

  std::vector<absl::string_view> lines_;
  size_t next_ = 0;
  size_t nodes_ = 0;
};

}  // namespace makegood::fuzz
