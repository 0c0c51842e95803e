// SPDX-License-Identifier: Apache-2.0
#include "varpulis/common/log.hpp"

#include <gtest/gtest.h>

namespace varpulis::log {
namespace {

TEST(LogTest, ParsesLevelsCaseInsensitively) {
    EXPECT_EQ(*parse_level("error"), Level::Error);
    EXPECT_EQ(*parse_level("WARN"), Level::Warn);
    EXPECT_EQ(*parse_level("warning"), Level::Warn);
    EXPECT_EQ(*parse_level("Info"), Level::Info);
    EXPECT_EQ(*parse_level("debug"), Level::Debug);
    EXPECT_EQ(*parse_level("trace"), Level::Trace);
    auto bad = parse_level("verbose");
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("unknown log level 'verbose'"), std::string::npos);
}

TEST(LogTest, ParsesFormats) {
    EXPECT_EQ(*parse_format("json"), Format::Json);
    EXPECT_EQ(*parse_format("TEXT"), Format::Text);
    EXPECT_FALSE(parse_format("xml").is_ok());
}

TEST(LogTest, ThresholdFiltersLevels) {
    configure(Level::Warn, Format::Text);
    EXPECT_TRUE(enabled(Level::Error));
    EXPECT_TRUE(enabled(Level::Warn));
    EXPECT_FALSE(enabled(Level::Info));
    configure(Level::Trace, Format::Text);
    EXPECT_TRUE(enabled(Level::Trace));
    configure(Level::Info, Format::Text);
}

TEST(LogTest, JsonRecordsEscapeTheMessage) {
    configure(Level::Info, Format::Json);
    testing::internal::CaptureStderr();
    info("mqtt", "broker \"b\"\nis down");
    debug("mqtt", "not written");
    const std::string out = testing::internal::GetCapturedStderr();
    configure(Level::Info, Format::Text);
    EXPECT_NE(out.find(R"("level":"info","component":"mqtt","msg":"broker \"b\"\nis down"})"), std::string::npos) << out;
    EXPECT_EQ(out.find("not written"), std::string::npos);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

}  // namespace
}  // namespace varpulis::log
