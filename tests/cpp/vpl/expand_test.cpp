// SPDX-License-Identifier: Apache-2.0
// Compile-time `for` expansion at column 0.
#include "support/vpl_support.hpp"
#include "varpulis/vpl/expand.hpp"

namespace varpulis::testing {
namespace {

std::string expanded(const std::string& source) {
    auto r = vpl::expand_source(source);
    auto* e = std::get_if<vpl::ExpandedSource>(&r);
    EXPECT_NE(e, nullptr);
    return e ? e->text : std::string();
}

TEST(ExpandTest, NestedLoopsSubstituteTheirVariables) {
    EXPECT_EQ(expanded("for r in 0..2:\n    for c in 0..2:\n        context t{r}{c}\nlet x = 1"),
              "context t00\ncontext t01\ncontext t10\ncontext t11\nlet x = 1");
}

TEST(ExpandTest, InclusiveRangeAndMultiLineBodies) {
    EXPECT_EQ(expanded("for i in 1..=2:\n    stream S{i} = A{i}\n        .where(x > {i})"),
              "stream S1 = A1\n    .where(x > 1)\nstream S2 = A2\n    .where(x > 2)");
}

TEST(ExpandTest, IndentedLoopsAreRuntimeLoops) {
    std::string src = "fn f():\n    for i in 0..3:\n        emit E(i: i)";
    EXPECT_EQ(expanded(src), src);
}

TEST(ExpandTest, ExpandedProgramParsesWithOriginalLineNumbers) {
    auto p = parse_ok("# header\nfor t in 0..4:\n    context c{t}\n    stream S{t} = Tile{t} .context(c{t})\n");
    EXPECT_EQ(p.statements.size(), 8u);
    EXPECT_EQ(p.statements[7]->span.line, 4u);
    auto d = first_diagnostic("for t in 0..2:\n    stream S{t} = A .where(x > )\n");
    EXPECT_EQ(d.span.line, 2u);
    EXPECT_EQ(d.span.column, 30u);
}

TEST(ExpandTest, TooManyIterationsIsAnError) {
    auto d = first_diagnostic("for i in 0..10001:\n    context c{i}\n");
    EXPECT_EQ(d.message, "compile-time loop has 10001 iterations");
    EXPECT_EQ(d.span.line, 1u);
}

TEST(ExpandTest, ExpansionSizeIsBounded) {
    // 10,000 x 10,000 lines would be 10^8: refused, quickly.
    auto d = first_diagnostic("for i in 0..10000:\n    for j in 0..10000:\n        context c{i}_{j}\n");
    EXPECT_EQ(d.code, "E000");
    EXPECT_NE(d.message.find("expand to more than"), std::string::npos);
}

TEST(ExpandTest, NonLiteralBoundsStayAsATopLevelForStatement) {
    EXPECT_EQ(first_diagnostic("let n = 3\nfor i in 0..n:\n    context c").code, "E092");
}

}  // namespace
}  // namespace varpulis::testing
