// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "varpulis/common/status.hpp"

namespace varpulis::common {
namespace {

Result<int> half(int x) {
    if (x % 2) return Status(ErrorCode::Invalid, "odd");
    return x / 2;
}

Result<int> quarter(int x) {
    VP_ASSIGN_OR_RETURN(int h, half(x));
    VP_ASSIGN_OR_RETURN(int q, half(h));
    return q;
}

Status check_even(int x) {
    VP_RETURN_NOT_OK(half(x));
    return Status::ok();
}

TEST(StatusTest, OkAndErrorCarryCodeAndMessage) {
    EXPECT_TRUE(Status::ok().is_ok());
    Status s(ErrorCode::NotFound, "no pipeline p1");
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.to_string(), "not_found: no pipeline p1");
}

TEST(StatusTest, WithContextPrefixesTheMessageAndKeepsTheRest) {
    Status st = Status(ErrorCode::Io, "disk full", Span{3, 4}).with_context("saving pipelines");
    EXPECT_EQ(st.code(), ErrorCode::Io);
    EXPECT_EQ(st.message(), "saving pipelines: disk full");
    EXPECT_EQ(st.span().line, 3u);
    EXPECT_TRUE(Status::ok().with_context("anything").is_ok());
}

TEST(StatusTest, MacrosPropagateTheFirstError) {
    EXPECT_EQ(*quarter(8), 2);
    EXPECT_EQ(quarter(6).status().message(), "odd");
    EXPECT_TRUE(check_even(4).is_ok());
    EXPECT_EQ(check_even(3).code(), ErrorCode::Invalid);
}

}  // namespace
}  // namespace varpulis::common
