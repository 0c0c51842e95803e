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

TEST(DiagnosticTest, EachDiagnosticOfALongLineCostsItsWindowOnly) {
    // 10,000 diagnostics on one line of 1 MB (a fuzzer's input): each shows the 200 columns
    // around it. The whole line was made printable once per diagnostic, 10 GB of work here.
    std::string src = "let s = \"" + std::string(1'000'000, 'a') + "\"";
    src[500'000] = '\x01';
    vpl::Diagnostic d;
    d.code = "E999";
    d.message = "m";
    d.span = {1, 500'001, 1, 500'001};
    const vpl::Diagnostics ds(10'000, d);
    const std::string one = "1:500001: error[E999] m\n"
                            "   |\n"
                            " 1 | " + std::string(99, 'a') + "?" + std::string(100, 'a') + "\n"
                            "   | " + std::string(99, ' ') + "^\n";
    EXPECT_EQ(vpl::format_diagnostic(d, src), one);
    const std::string all = vpl::format_diagnostics(ds, src);
    EXPECT_EQ(all.size(), ds.size() * one.size() + ds.size() - 1);
    EXPECT_EQ(all.substr(0, one.size()), one);
}

}  // namespace
}  // namespace varpulis::testing
