// SPDX-License-Identifier: Apache-2.0
// The small shared helpers: UUIDs, secret comparison, type patterns, URL paths, wall clock.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "varpulis/common/path.hpp"
#include "varpulis/common/secret.hpp"
#include "varpulis/common/time.hpp"
#include "varpulis/common/type_pattern.hpp"
#include "varpulis/common/uuid.hpp"

namespace varpulis::common {
namespace {

TEST(ConstantTimeEqualTest, ComparesWholeStrings) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(RandomSecretTest, SixtyFourHexDigitsNeverRepeated) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string s = random_secret();
        ASSERT_EQ(s.size(), 64u);
        EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos);
        EXPECT_TRUE(seen.insert(s).second);
    }
}

TEST(Sha256HexTest, KnownDigests) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(EventTypeMatchesTest, ExactPrefixAndWildcard) {
    EXPECT_TRUE(event_type_matches("*", "Anything"));
    EXPECT_TRUE(event_type_matches("Alert*", "AlertHigh"));
    EXPECT_TRUE(event_type_matches("Alert*", "Alert"));
    EXPECT_FALSE(event_type_matches("Alert*", "Alarm"));
    EXPECT_TRUE(event_type_matches("Reading", "Reading"));
    EXPECT_FALSE(event_type_matches("Reading", "Readings"));
}

TEST(UuidTest, IsVersion4AndUnique) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        std::string id = new_uuid();
        ASSERT_EQ(id.size(), 36u);
        EXPECT_EQ(id[8], '-');
        EXPECT_EQ(id[14], '4');  // version
        EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant 10
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(SplitPathTest, SkipsEmptySegmentsAndNeedsALeadingSlash) {
    EXPECT_EQ(split_path("/api/v1/pipelines/x"), (std::vector<std::string>{"api", "v1", "pipelines", "x"}));
    EXPECT_EQ(split_path("//a///b/"), (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(split_path("api/v1").empty());
    EXPECT_TRUE(split_path("/").empty());
}

TEST(SplitHostPortTest, ReadsHostAndPortOrRefuses) {
    auto a = split_host_port("broker.local:1884", 1883);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "broker.local");
    EXPECT_EQ(a->port, 1884);
    EXPECT_EQ(split_host_port("broker", 1883)->port, 1883);
    for (const char* bad : {":1883", "h:0", "h:65536", "h:x", ""}) EXPECT_FALSE(split_host_port(bad, 1883)) << bad;
}

TEST(WallClockTest, MillisecondsAndNanosecondsAgree) {
    int64_t ms = wall_clock_ms();
    int64_t ns = wall_clock_ns();
    EXPECT_GT(ms, 1'700'000'000'000);  // after 2023
    EXPECT_LE(ms, ns / 1'000'000);
    EXPECT_LT(ns / 1'000'000 - ms, 1000);
}

}  // namespace
}  // namespace varpulis::common
