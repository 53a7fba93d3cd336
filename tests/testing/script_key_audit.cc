// File: tests/testing/script_key_audit.cc
#include "tests/testing/script_key_audit.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/redis/key_slot.h"

namespace makegood::testing {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Reads one argument quoted as sdscatrepr writes it, from `*pos` (at the
// opening quote) past the closing quote.
bool ReadQuoted(absl::string_view text, size_t* pos, std::string* out) {
  if (*pos >= text.size() || text[*pos] != '"') return false;
  out->clear();
  for (size_t i = *pos + 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      *pos = i + 1;
      return true;
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= text.size()) return false;
    switch (text[i]) {
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'x': {
        if (i + 2 >= text.size()) return false;
        int hi = HexDigit(text[i + 1]);
        int lo = HexDigit(text[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out->push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        out->push_back(text[i]);
        break;  // \\ and \"
    }
  }
  return false;
}

// The keys a command run by a script names, for the commands makegood's
// scripts use; nullopt-like `known` false for any other command, which the
// audit reports so this table grows with the scripts.
std::vector<std::string> KeysOf(const std::vector<std::string>& argv,
                                bool* known) {
  static const std::set<std::string> kNoKeys = {"TIME"};
  static const std::set<std::string> kAllKeys = {"DEL", "EXISTS", "UNLINK",
                                                 "MGET", "TOUCH"};
  static const std::set<std::string> kFirstKey = {
      "GET",           "SET",
      "SETNX",         "INCR",
      "INCRBY",        "DECRBY",
      "PEXPIRE",       "EXPIRE",
      "PTTL",          "TTL",
      "HDEL",          "HEXISTS",
      "HGET",          "HGETALL",
      "HINCRBY",       "HKEYS",
      "HLEN",          "HMGET",
      "HSET",          "HSETNX",
      "HVALS",         "XACK",
      "XADD",          "XDEL",
      "XLEN",          "XRANGE",
      "XREVRANGE",     "XTRIM",
      "XPENDING",      "XCLAIM",
      "ZADD",          "ZCARD",
      "ZCOUNT",        "ZRANGE",
      "ZRANGEBYSCORE", "ZREM",
      "ZREVRANGE",     "ZREVRANGEBYSCORE",
      "ZSCORE",        "ZREMRANGEBYSCORE",
      "SADD",          "SREM",
      "SISMEMBER",     "SMEMBERS",
      "LPUSH",         "RPUSH",
      "LRANGE",        "TYPE"};
  const std::string name = absl::AsciiStrToUpper(argv[0]);
  *known = true;
  if (kNoKeys.count(name) > 0) return {};
  if (kAllKeys.count(name) > 0) return {argv.begin() + 1, argv.end()};
  if (kFirstKey.count(name) > 0 && argv.size() > 1) return {argv[1]};
  *known = false;
  return {};
}

}  // namespace

bool ParseMonitorLine(absl::string_view line, std::string* client,
                      std::vector<std::string>* argv) {
  size_t open = line.find(" [");
  size_t close = line.find("] ");
  if (open == absl::string_view::npos || close == absl::string_view::npos ||
      close < open) {
    return false;
  }
  absl::string_view who = line.substr(open + 2, close - open - 2);
  size_t space = who.find(' ');
  if (space == absl::string_view::npos) return false;
  *client = std::string(who.substr(space + 1));
  argv->clear();
  size_t pos = close + 2;
  while (pos < line.size()) {
    std::string arg;
    if (!ReadQuoted(line, &pos, &arg)) return false;
    argv->push_back(std::move(arg));
    if (pos < line.size() && line[pos] == ' ') ++pos;
  }
  return !argv->empty();
}

std::vector<std::string> AuditScriptKeys(absl::string_view monitor_log) {
  std::vector<std::string> violations;
  std::set<std::string> reported;
  auto report = [&](std::string what) {
    if (reported.insert(what).second) violations.push_back(std::move(what));
  };
  bool in_script = false;
  std::string script;  // The script's first words or its SHA, for messages.
  std::set<std::string> script_keys;
  for (absl::string_view line : absl::StrSplit(monitor_log, '\n')) {
    std::string client;
    std::vector<std::string> argv;
    if (!ParseMonitorLine(line, &client, &argv)) continue;
    if (client != "lua") {
      const std::string name = absl::AsciiStrToUpper(argv[0]);
      in_script = name == "EVAL" || name == "EVALSHA" || name == "EVAL_RO" ||
                  name == "EVALSHA_RO";
      if (!in_script) continue;
      int numkeys = 0;
      if (argv.size() < 3 || !absl::SimpleAtoi(argv[2], &numkeys) ||
          numkeys < 0 || argv.size() < 3 + static_cast<size_t>(numkeys)) {
        report(absl::StrCat("unreadable script call: ", line));
        in_script = false;
        continue;
      }
      script = name == "EVAL" || name == "EVAL_RO"
                   ? absl::StrCat("script \"", argv[1].substr(0, 60), "\"")
                   : absl::StrCat("script ", argv[1]);
      script_keys.clear();
      std::set<int> slots;
      for (int i = 0; i < numkeys; ++i) {
        script_keys.insert(argv[3 + i]);
        slots.insert(redis::KeySlot(argv[3 + i]));
      }
      if (slots.size() > 1) {
        report(absl::StrCat(
            script, " was passed keys in ", slots.size(), " hash slots: ",
            absl::StrJoin(argv.begin() + 3, argv.begin() + 3 + numkeys, " ")));
      }
      continue;
    }
    if (!in_script) continue;  // A script from before the log began.
    bool known = false;
    std::vector<std::string> keys = KeysOf(argv, &known);
    if (!known) {
      report(absl::StrCat(script, " runs ", argv[0],
                          ", which the audit cannot read keys from: add it "
                          "to KeysOf in tests/testing/script_key_audit.cc"));
      continue;
    }
    for (const std::string& key : keys) {
      if (script_keys.count(key) == 0) {
        report(absl::StrCat(script, " touches ", key,
                            ", which it was not passed in KEYS (", argv[0],
                            ")"));
      }
    }
  }
  return violations;
}

}  // namespace makegood::testing
