// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/time.hpp"

#include <gtest/gtest.h>

namespace varpulis::common {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(Rfc3339Test, ParsesDatesTimesFractionsAndOffsets) {
    EXPECT_EQ(parse_rfc3339("1970-01-01"), 0);
    EXPECT_EQ(parse_rfc3339("2023-11-14T22:13:20Z"), 1'700'000'000 * kSecond);
    EXPECT_EQ(parse_rfc3339("2023-11-14T22:13:20.5Z"), 1'700'000'000 * kSecond + kSecond / 2);
    EXPECT_EQ(parse_rfc3339("2023-11-14T22:13:20.123456789Z"), 1'700'000'000 * kSecond + 123'456'789);
    EXPECT_EQ(parse_rfc3339("2023-11-15T00:13:20+02:00"), 1'700'000'000 * kSecond);
    EXPECT_EQ(parse_rfc3339("2023-11-14T22:13:20"), 1'700'000'000 * kSecond);  // no offset: UTC
}

TEST(Rfc3339Test, RefusesOtherShapes) {
    for (const char* bad : {"", "yesterday", "2023-11-14T", "2023-13-01", "2023-11-14T25:00:00Z", "2023-11-14T22:13:20.Z",
                            "2023-11-14T22:13:20Zjunk", "2023-11-14T22:13:20+0200", "2023-1-14",
                            "9999-12-31T00:00:00Z", "1000-01-01", "2023-11-14T22:13:20+24:00", "2023-11-14T22:13:20+01:60"}) {
        EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
    }
}

}  // namespace
}  // namespace varpulis::common
