// SPDX-License-Identifier: Apache-2.0
// Expression grammar: precedence, associativity, postfix forms, folding.
#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

TEST(ExpressionTest, ArithmeticPrecedence) {
    auto j = expr_json("a + b * c");
    EXPECT_EQ(j["binary"], "+");
    EXPECT_EQ(j["right"]["binary"], "*");
    j = expr_json("a - b - c");
    EXPECT_EQ(j["left"]["binary"], "-");  // left-associative
}

TEST(ExpressionTest, PowerIsRightAssociativeOverUnaryOperands) {
    auto j = expr_json("a ** b ** c");
    EXPECT_EQ(j["binary"], "**");
    EXPECT_EQ(j["right"]["binary"], "**");
    j = expr_json("-x ** 2");
    EXPECT_EQ(j["binary"], "**");
    EXPECT_EQ(j["left"]["unary"], "-");
}

TEST(ExpressionTest, LogicalPrecedence) {
    auto j = expr_json("not a == 1 or b > 2 and c < 3");
    EXPECT_EQ(j["binary"], "or");
    EXPECT_EQ(j["left"]["unary"], "not");
    EXPECT_EQ(j["right"]["binary"], "and");
    j = expr_json("not not a");
    EXPECT_EQ(j["operand"]["unary"], "not");
}

TEST(ExpressionTest, ComparisonsDoNotChain) {
    EXPECT_EQ(first_diagnostic("let x = a < b < c").code, "E000");
}

TEST(ExpressionTest, MembershipAndBitwise) {
    EXPECT_EQ(expr_json("a not in [1, 2]")["binary"], "not in");
    EXPECT_EQ(expr_json("a in {\"k\": 1}")["binary"], "in");
    auto j = expr_json("a | b ^ c & d << 1");
    EXPECT_EQ(j["binary"], "|");
    EXPECT_EQ(j["right"]["binary"], "^");
    EXPECT_EQ(j["right"]["right"]["binary"], "&");
    EXPECT_EQ(j["right"]["right"]["right"]["binary"], "<<");
    EXPECT_EQ(expr_json("~a")["unary"], "~");
}

TEST(ExpressionTest, RangesAndConditionals) {
    EXPECT_EQ(expr_json("0..n")["binary"], "..");
    EXPECT_EQ(expr_json("1..=10")["binary"], "..=");
    auto j = expr_json("if a > 1 then \"big\" else \"small\"");
    EXPECT_EQ(j["then"]["literal"], "big");
}

TEST(ExpressionTest, PostfixForms) {
    auto j = expr_json("a.b[0].c(1, k: 2)");
    EXPECT_EQ(j["call"]["member"], "c");
    EXPECT_EQ(j["args"][1]["name"], "k");
    EXPECT_EQ(expr_json("a?.b")["optional_member"], "b");
    EXPECT_TRUE(expr_json("s[1:]")["slice"][1].is_null());
    EXPECT_EQ(expr_json("s[:2]")["slice"][1]["literal"], 2);
    EXPECT_EQ(expr_json("m[\"k\"]")["index"]["literal"], "k");
}

TEST(ExpressionTest, CollectionsAndLambdas) {
    EXPECT_EQ(expr_json("[1, 2, 3,]")["array"].size(), 3u);
    auto j = expr_json("{\"a\": 1, b: 2}");
    EXPECT_EQ(j["map"][1]["key"], "b");
    EXPECT_EQ(expr_json("x => x + 1")["lambda"][0], "x");
    EXPECT_EQ(expr_json("(a, b) => a + b")["lambda"].size(), 2u);
    EXPECT_EQ(expr_json("(a) => { let t = a * 2; t + 1 }")["block"].size(), 1u);
}

TEST(ExpressionTest, ConstantFolding) {
    EXPECT_EQ(expr_json("-1")["literal"], -1);
    EXPECT_EQ(expr_json("-2.0 + 3.0 / 1000.0")["literal"], -2.0 + 3.0 / 1000.0);
    EXPECT_EQ(expr_json("7 / 2")["literal"], 3);
    EXPECT_EQ(expr_json("7 % 3")["literal"], 1);
    EXPECT_EQ(expr_json("1 + 2.5")["literal"], 3.5);
    EXPECT_EQ(expr_json("\"a\" + \"b\"")["literal"], "ab");
    EXPECT_EQ(expr_json("1 / 0")["binary"], "/");  // left for the runtime (null)
    EXPECT_EQ(expr_json("x * 0")["binary"], "*");  // no identity folds: x may be missing
}

}  // namespace
}  // namespace varpulis::testing
