// SPDX-License-Identifier: Apache-2.0
// Line structure (NEWLINE / INDENT / DEDENT), comments, keywords and literals.
#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

TEST(TokensTest, StatementsEndAtNewlines) {
    auto p = parse_ok("let a = 1\nlet b = 2\n\n\nlet c = 3");
    EXPECT_EQ(p.statements.size(), 3u);
}

TEST(TokensTest, DotAndArrowLinesContinueTheStatement) {
    auto j = statement_json("stream S = A as a\n    -> B as b\n    .within(5m)\n\n    .emit(x: a.x)");
    EXPECT_EQ(j["ops"].size(), 3u);
    EXPECT_EQ(j["ops"][0]["op"], "->");
    EXPECT_EQ(j["ops"][2]["op"], "emit");
}

TEST(TokensTest, OpenBracketsContinueTheStatement) {
    auto j = statement_json("let x = foo(1,\n  2,\n      3)");
    EXPECT_EQ(j["value"]["args"].size(), 3u);
}

TEST(TokensTest, DeeperIndentedLinesContinueTheStatement) {
    auto j = statement_json("pattern P = SEQ(A, B)\n    within 5m\n    partition by user");
    EXPECT_EQ(j["partition_by"], "user");
}

TEST(TokensTest, ColonAtLineEndOpensABlock) {
    auto p = parse_ok("fn f(x: int) -> int:\n    if x > 0:  # trailing comment\n        return 1\n    return 0\nlet y = 1");
    ASSERT_EQ(p.statements.size(), 2u);
    auto& fn = std::get<vpl::FnDecl>(p.statements[0]->node);
    EXPECT_EQ(fn.body.size(), 2u);
}

TEST(TokensTest, MissingIndentedBlockIsAnError) {
    auto d = first_diagnostic("fn f():\nreturn 1");
    EXPECT_EQ(d.code, "E000");
    EXPECT_EQ(d.span.line, 2u);
    EXPECT_EQ(d.hint, "expected an indented block");
}

TEST(TokensTest, InconsistentDedentIsAnError) {
    auto d = first_diagnostic("fn f():\n        let a = 1\n    let b = 2");
    EXPECT_EQ(d.code, "E000");
    EXPECT_EQ(d.message, "indentation does not match any enclosing block");
    EXPECT_EQ(d.span.line, 3u);
}

TEST(TokensTest, LineLeftOfTheFirstLineIsAnError) {
    auto d = first_diagnostic("  # c\n        let a = 1\n    let b = 2");
    EXPECT_EQ(d.message, "indentation does not match any enclosing block");
    EXPECT_EQ(d.span.line, 3u);
}

TEST(TokensTest, CommonIndentationIsRemoved) {
    auto p = parse_ok("    stream A = X\n        .where(v > 1)\n    stream B = Y");
    EXPECT_EQ(p.statements.size(), 2u);
}

TEST(TokensTest, AllCommentStyles) {
    auto p = parse_ok("# hash\n// slashes\nlet a = 1 # trailing\n/* block\n spanning */ let b = 2 // end");
    EXPECT_EQ(p.statements.size(), 2u);
}

TEST(TokensTest, KeywordsEndAtWordBoundaries) {
    auto j = statement_json("stream S = allEvents .where(notified == true and truex == nullable and string == 1)");
    EXPECT_EQ(j["source"]["name"], "allEvents");
    auto where = j["ops"][0]["args"][0]["value"];
    EXPECT_EQ(where["binary"], "and");
    EXPECT_EQ(where["left"]["left"]["left"]["ident"], "notified");
}

TEST(TokensTest, KeywordsCanBeFieldNames) {
    auto j = statement_json("stream S = A .where(type == \"a\" and event == 1 and from == 2).emit(type: type)");
    EXPECT_EQ(j["ops"][1]["args"][0]["name"], "type");
}

TEST(TokensTest, LiteralsAndEscapes) {
    EXPECT_EQ(expr_json("42")["literal"], 42);
    EXPECT_EQ(expr_json("2.5")["literal"], 2.5);
    EXPECT_EQ(expr_json("1.5e3")["literal"], 1500.0);
    EXPECT_EQ(expr_json("5m")["literal"]["duration_ns"], 300'000'000'000LL);
    EXPECT_EQ(expr_json("250ms")["literal"]["duration_ns"], 250'000'000LL);
    EXPECT_EQ(expr_json("1d")["literal"]["duration_ns"], 86'400'000'000'000LL);
    EXPECT_EQ(expr_json("\"a\\n\\t\\\"b\\\\\"")["literal"], "a\n\t\"b\\");
    EXPECT_EQ(expr_json("\"\\u00e9\"")["literal"], "\xc3\xa9");
    EXPECT_EQ(expr_json("true")["literal"], true);
    EXPECT_TRUE(expr_json("null")["literal"].is_null());
    EXPECT_EQ(expr_json("@2024-01-02")["literal"]["timestamp_ns"], 1704153600LL * 1'000'000'000);
    EXPECT_EQ(expr_json("@2024-01-02T03:04:05Z")["literal"]["timestamp_ns"], (1704153600LL + 11045) * 1'000'000'000);
    EXPECT_EQ(expr_json("@2024-01-02T03:04:05+01:00")["literal"]["timestamp_ns"], (1704153600LL + 7445) * 1'000'000'000);
}

TEST(TokensTest, BadTokensAreReportedWithTheirPosition) {
    auto d = first_diagnostic("let x = 5min");
    EXPECT_EQ(d.message, "invalid number '5min'");
    EXPECT_EQ(d.span.column, 9u);
    d = first_diagnostic("let s = \"abc");
    EXPECT_EQ(d.message, "unterminated string literal");
    d = first_diagnostic("let a = 1\n/* never closed");
    EXPECT_EQ(d.message, "unterminated block comment");
    EXPECT_EQ(d.span.line, 2u);
    d = first_diagnostic("let a = 1 $ 2");
    EXPECT_EQ(d.message, "unexpected character '$'");
    d = first_diagnostic("let a = (1 + 2");
    EXPECT_EQ(d.message, "'(' is never closed");
    d = first_diagnostic("let a = 99999999999999999999");
    EXPECT_EQ(d.message, "integer literal 99999999999999999999 is out of range");
    d = first_diagnostic("let a = 9999999999999999999d");
    EXPECT_EQ(d.message, "duration 9999999999999999999d is out of range");
    d = first_diagnostic("let a = @2024-13-01");
    EXPECT_EQ(d.message, "invalid timestamp @2024-13-01");
}

}  // namespace
}  // namespace varpulis::testing
