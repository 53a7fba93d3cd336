#include "services/core/text.h"

#include <string>

#include "gtest/gtest.h"

namespace makegood {
namespace {

TEST(IsValidId, AcceptsLettersDigitsAndTheAllowedPunctuation) {
  EXPECT_TRUE(IsValidId("a"));
  EXPECT_TRUE(IsValidId("Order-2024.11_07:eu@shop"));
  EXPECT_TRUE(IsValidId("0123456789"));
}

TEST(IsValidId, RefusesTheEmptyId) { EXPECT_FALSE(IsValidId("")); }

TEST(IsValidId, AcceptsExactlyTheMaximumLength) {
  EXPECT_TRUE(IsValidId(std::string(kMaxIdLength, 'x')));
  EXPECT_FALSE(IsValidId(std::string(kMaxIdLength + 1, 'x')));
}

TEST(IsValidId, RefusesCharactersThatWouldBreakRedisKeys) {
  for (const char* id : {"a b", "a{b", "a}b", "a/b", "a*b", "a\tb", "a\nb",
                         "a|b", "a,b", "caf\xc3\xa9"}) {
    EXPECT_FALSE(IsValidId(id)) << id;
  }
  EXPECT_FALSE(IsValidId(std::string("a\0b", 3)));
}

TEST(IsPrintableAscii, AcceptsSpaceThroughTilde) {
  EXPECT_TRUE(IsPrintableAscii(" ~", 1, 10));
  EXPECT_TRUE(IsPrintableAscii("SKU 12/34 {x}", 1, 128));
}

TEST(IsPrintableAscii, RefusesControlAndNonAsciiBytes) {
  EXPECT_FALSE(IsPrintableAscii("a\x1f", 1, 10));
  EXPECT_FALSE(IsPrintableAscii("a\x7f", 1, 10));
  EXPECT_FALSE(IsPrintableAscii("caf\xc3\xa9", 1, 10));
  EXPECT_FALSE(IsPrintableAscii("a\tb", 1, 10));
}

TEST(IsPrintableAscii, EnforcesBothLengthBounds) {
  EXPECT_FALSE(IsPrintableAscii("ab", 3, 5));
  EXPECT_TRUE(IsPrintableAscii("abc", 3, 5));
  EXPECT_TRUE(IsPrintableAscii("abcde", 3, 5));
  EXPECT_FALSE(IsPrintableAscii("abcdef", 3, 5));
  EXPECT_TRUE(IsPrintableAscii("", 0, 5));
}

TEST(IsLowerToken, AcceptsLowerCaseDigitsUnderscoreAndHyphen) {
  EXPECT_TRUE(IsLowerToken("gift_card", 64));
  EXPECT_TRUE(IsLowerToken("tier-2", 64));
  EXPECT_TRUE(IsLowerToken("0", 1));
}

TEST(IsLowerToken, RefusesUpperCaseSpacesAndOtherPunctuation) {
  for (const char* token :
       {"Basic", "gift card", "a.b", "a:b", "a@b", "\xc3\xa9"}) {
    EXPECT_FALSE(IsLowerToken(token, 64)) << token;
  }
}

TEST(IsLowerToken, EnforcesOneToMaxLength) {
  EXPECT_FALSE(IsLowerToken("", 64));
  EXPECT_TRUE(IsLowerToken(std::string(32, 'a'), 32));
  EXPECT_FALSE(IsLowerToken(std::string(33, 'a'), 32));
}

TEST(IsCurrencyCode, AcceptsThreeUpperCaseLetters) {
  EXPECT_TRUE(IsCurrencyCode("EUR"));
  EXPECT_TRUE(IsCurrencyCode("JPY"));
}

TEST(IsCurrencyCode, RefusesOtherLengthsCasesAndDigits) {
  for (const char* code : {"", "EU", "EURO", "eur", "Eur", "E1R", "EU "}) {
    EXPECT_FALSE(IsCurrencyCode(code)) << code;
  }
}

}  // namespace
}  // namespace makegood
