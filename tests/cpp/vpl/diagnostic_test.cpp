// SPDX-License-Identifier: Apache-2.0
// The text of diagnostics: position, code, hint, source line and caret.
#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

TEST(DiagnosticTest, FormatShowsPositionCodeHintLineAndCaret) {
    std::string src = "stream S = A\n    .where(x > )\n";
    auto r = vpl::check(src);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(vpl::format_diagnostic(r.diagnostics[0], src, "p.vpl"),
              "p.vpl:2:16: error[E000] unexpected ')'\n"
              "  hint: expected an expression\n"
              "   |\n"
              " 2 |     .where(x > )\n"
              "   |                ^\n");
}

TEST(DiagnosticTest, CaretFollowsTabsAndMultiByteCharacters) {
    std::string src = "let s = \"\xc3\xa9\xc3\xa9\"\t$";
    auto d = first_diagnostic(src);
    EXPECT_EQ(d.span.column, 14u);
    std::string text = vpl::format_diagnostic(d, src);
    EXPECT_NE(text.find("\n   |             \t^\n"), std::string::npos) << text;
}

TEST(DiagnosticTest, SyntaxErrorsNameWhatWasExpected) {
    EXPECT_EQ(first_diagnostic("stream S A").hint, "expected '=' or ':'");
    EXPECT_EQ(first_diagnostic("let x = foo(1, 2").message, "'(' is never closed");
    EXPECT_EQ(first_diagnostic("stream S = A .where(x > 1) junk").message, "unexpected 'junk'");
    auto d = first_diagnostic("connector C = mqtt(host: \"h\"");
    EXPECT_EQ(d.span.line, 1u);
    EXPECT_EQ(d.span.column, 19u);
}

TEST(DiagnosticTest, WarningsAreFormattedAsWarnings) {
    std::string src = "stream S = A .aggregate(n: count())";
    auto d = first_diagnostic(src);
    EXPECT_EQ(d.severity, vpl::Severity::Warning);
    EXPECT_EQ(vpl::format_diagnostic(d, src).rfind("1:14: warning[W001]", 0), 0u);
}

}  // namespace
}  // namespace varpulis::testing
