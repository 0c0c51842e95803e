// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "varpulis/common/value.hpp"

namespace varpulis::common {
namespace {

TEST(ValueTest, NumbersCompareLeniently) {
    EXPECT_EQ(Value(1), Value(1.0));
    EXPECT_FALSE(Value(1) == Value("1"));
    EXPECT_EQ(Value(Array{Value(1), Value("a")}), Value(Array{Value(1.0), Value("a")}));
}

TEST(ValueTest, DisplayKeepsFloatsRecognisable) {
    EXPECT_EQ(Value(200.0).to_display(), "200.0");
    EXPECT_EQ(Value(25.5).to_display(), "25.5");
    EXPECT_EQ(Value(0.1).to_display(), "0.1");
    EXPECT_EQ(Value("x").to_display(), "x");
    EXPECT_EQ(Value("x\"y").to_source(), "\"x\\\"y\"");
    EXPECT_EQ(Value(Map{{"k", Value(true)}}).to_display(), "{\"k\": true}");
}

TEST(ValueTest, TypeNames) {
    EXPECT_EQ(Value().type_name(), "null");
    EXPECT_EQ(Value(Duration{5}).type_name(), "duration");
    EXPECT_EQ(Value(Array{}).type_name(), "array");
}

}  // namespace
}  // namespace varpulis::common
