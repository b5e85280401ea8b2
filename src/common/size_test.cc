#include "mooncake/common/size.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "mooncake/common/units.h"

namespace mooncake {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

uint64_t ParseOk(std::string_view text) {
  Result<uint64_t> r = ParseSize(text);
  EXPECT_TRUE(r.ok()) << "\"" << text << "\": " << r.status().ToString();
  return r.value_or(~uint64_t{0});
}

// Returns the error message, which must quote the input.
std::string ParseError(std::string_view text) {
  Result<uint64_t> r = ParseSize(text);
  EXPECT_FALSE(r.ok()) << "\"" << text << "\" parsed as " << r.value_or(0);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(r.status().message(), HasSubstr("\"" + std::string(text) + "\""));
  return r.status().message();
}

TEST(ParseSizeTest, NoUnitMeansBytes) {
  EXPECT_EQ(ParseOk("0"), 0u);
  EXPECT_EQ(ParseOk("17"), 17u);
  EXPECT_EQ(ParseOk("17B"), 17u);
}

TEST(ParseSizeTest, EveryUnitSpellingIsAPowerOf1024) {
  for (const char* unit : {"K", "KB", "KiB"}) EXPECT_EQ(ParseOk(std::string("3") + unit), 3 * kKiB);
  for (const char* unit : {"M", "MB", "MiB"}) EXPECT_EQ(ParseOk(std::string("3") + unit), 3 * kMiB);
  for (const char* unit : {"G", "GB", "GiB"}) EXPECT_EQ(ParseOk(std::string("3") + unit), 3 * kGiB);
  for (const char* unit : {"T", "TB", "TiB"}) EXPECT_EQ(ParseOk(std::string("3") + unit), 3 * kTiB);
}

TEST(ParseSizeTest, UnitsAreCaseInsensitive) {
  EXPECT_EQ(ParseOk("4gib"), 4 * kGiB);
  EXPECT_EQ(ParseOk("4GIB"), 4 * kGiB);
  EXPECT_EQ(ParseOk("4mb"), 4 * kMiB);
  EXPECT_EQ(ParseOk("4k"), 4 * kKiB);
  EXPECT_EQ(ParseOk("4b"), 4u);
}

TEST(ParseSizeTest, SpacesAroundAndBeforeUnitAreIgnored) {
  EXPECT_EQ(ParseOk("64 MiB"), 64 * kMiB);
  EXPECT_EQ(ParseOk("64   MiB"), 64 * kMiB);
  EXPECT_EQ(ParseOk("  64MiB\t\n"), 64 * kMiB);
  EXPECT_EQ(ParseOk(" 12 "), 12u);
}

TEST(ParseSizeTest, LargestValuesFit) {
  EXPECT_EQ(ParseOk("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseOk("16777215 TiB"), 16777215 * kTiB);
}

TEST(ParseSizeTest, RejectsEmptyInput) {
  EXPECT_THAT(ParseError(""), HasSubstr("empty"));
  EXPECT_THAT(ParseError("   "), HasSubstr("empty"));
}

TEST(ParseSizeTest, RejectsSigns) {
  EXPECT_THAT(ParseError("-1"), HasSubstr("non-negative integer"));
  EXPECT_THAT(ParseError("+1"), HasSubstr("non-negative integer"));
}

TEST(ParseSizeTest, RejectsFractions) {
  EXPECT_THAT(ParseError("1.5G"), HasSubstr("fraction"));
  EXPECT_THAT(ParseError("1,5G"), HasSubstr("fraction"));
}

TEST(ParseSizeTest, RejectsUnknownUnits) {
  EXPECT_THAT(ParseError("50%"), AllOf(HasSubstr("unknown unit"), HasSubstr("\"%\"")));
  EXPECT_THAT(ParseError("12 XB"), AllOf(HasSubstr("unknown unit"), HasSubstr("\"XB\"")));
  EXPECT_THAT(ParseError("12 PiB"), HasSubstr("unknown unit"));
  EXPECT_THAT(ParseError("12 K B"), HasSubstr("unknown unit"));
  EXPECT_THAT(ParseError("12 Kibibytes"), HasSubstr("unknown unit"));
  EXPECT_THAT(ParseError("1 2"), HasSubstr("unknown unit"));
}

TEST(ParseSizeTest, RejectsNonNumbers) {
  EXPECT_THAT(ParseError("GiB"), HasSubstr("non-negative integer"));
  EXPECT_THAT(ParseError("abc"), HasSubstr("non-negative integer"));
}

TEST(ParseSizeTest, RejectsOverflow) {
  EXPECT_THAT(ParseError("18446744073709551616"), HasSubstr("64 bits"));
  EXPECT_THAT(ParseError("99999999999999999999999"), HasSubstr("64 bits"));
  EXPECT_THAT(ParseError("16777216 TiB"), HasSubstr("64 bits"));
  EXPECT_THAT(ParseError("18446744073709551615K"), HasSubstr("64 bits"));
}

TEST(FormatSizeTest, WholeUnitsHaveNoDecimals) {
  EXPECT_EQ(FormatSize(0), "0 B");
  EXPECT_EQ(FormatSize(17), "17 B");
  EXPECT_EQ(FormatSize(1023), "1023 B");
  EXPECT_EQ(FormatSize(64 * kKiB), "64 KiB");
  EXPECT_EQ(FormatSize(kGiB), "1 GiB");
  EXPECT_EQ(FormatSize(3 * kTiB), "3 TiB");
}

TEST(FormatSizeTest, PartialUnitsShowTwoDecimals) {
  EXPECT_EQ(FormatSize(kMiB + kMiB / 2), "1.50 MiB");
  EXPECT_EQ(FormatSize(kKiB + 1), "1.00 KiB");
  EXPECT_EQ(FormatSize(UINT64_MAX), "16.00 EiB");
}

TEST(FormatSizeTest, RoundTripsThroughParseSize) {
  for (uint64_t bytes : {uint64_t{0}, uint64_t{5}, 8 * kKiB, 300 * kMiB, 2 * kGiB, 7 * kTiB}) {
    EXPECT_EQ(ParseOk(FormatSize(bytes)), bytes) << FormatSize(bytes);
  }
}

}  // namespace
}  // namespace mooncake
