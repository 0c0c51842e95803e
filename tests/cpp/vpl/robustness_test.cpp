// SPDX-License-Identifier: Apache-2.0
// Hostile input: deep nesting, huge sources, garbage. A clear error, never a crash or a hang.
#include <random>

#include "support/vpl_support.hpp"

namespace varpulis::testing {
namespace {

std::string nested(size_t depth) { return "let x = " + std::string(depth, '(') + "1" + std::string(depth, ')'); }

TEST(RobustnessTest, HundredLevelsOfBracketsParse) {
    parse_ok(nested(100));
    parse_ok("let x = " + std::string(100, '[') + "1" + std::string(100, ']'));
}

TEST(RobustnessTest, DeeperNestingIsAClearError) {
    auto d = first_diagnostic(nested(100000));
    EXPECT_EQ(d.message, "brackets nested deeper than 128 levels");
}

TEST(RobustnessTest, LongPrefixChainsStopAtTheStackBudget) {
    auto d = first_diagnostic("let x = " + std::string(200000, '-') + "1");
    EXPECT_EQ(d.message, "program is nested too deeply");
    d = first_diagnostic("let x = " + std::string(100000, '~') + "1");
    EXPECT_EQ(d.code, "E000");
}

TEST(RobustnessTest, LongOperatorChainsAreRefused) {
    std::string src = "let x = 1";
    for (int i = 0; i < 5000; ++i) src += " + 1";
    EXPECT_NE(first_diagnostic(src).message.find("more than 1000 operators"), std::string::npos);
}

TEST(RobustnessTest, TenMegabyteSourceParses) {
    std::string unit = "stream S{i} = Reading .where(temperature > 100 and sensor_id != \"x\") .emit(a: sensor_id, b: temperature * 2)\n";
    std::string src;
    src.reserve(10'500'000);
    for (int i = 0; src.size() < 10'000'000; ++i) {
        std::string s = unit;
        s.replace(s.find("{i}"), 3, std::to_string(i));
        src += s;
    }
    auto r = vpl::parse(src);
    ASSERT_TRUE(r.program.has_value());
    EXPECT_GT(r.program->statements.size(), 80'000u);
}

TEST(RobustnessTest, BinaryGarbageIsRejected) {
    std::mt19937 rng(42);
    for (int round = 0; round < 50; ++round) {
        std::string src(4096, '\0');
        for (auto& c : src) c = static_cast<char>(rng() & 0xFF);
        auto r = vpl::check(src);
        EXPECT_TRUE(has_errors(r.diagnostics));
    }
}

TEST(RobustnessTest, PrintableGarbageNeverCrashes) {
    std::mt19937 rng(7);
    const std::string alphabet = "abcxyz019 \n\t()[]{}.,:;=<>!+-*/%\"#@->:=..stream where fn if emit";
    for (int round = 0; round < 500; ++round) {
        std::string src;
        size_t len = rng() % 400;
        for (size_t i = 0; i < len; ++i) src += alphabet[rng() % alphabet.size()];
        auto r = vpl::check(src);  // any answer is fine; it must come back
        (void)r;
    }
}

TEST(RobustnessTest, UnterminatedConstructsAreErrors) {
    EXPECT_TRUE(has_errors(vpl::check("fn f():").diagnostics));
    EXPECT_TRUE(has_errors(vpl::check("fn f():\n    if x:").diagnostics));
    EXPECT_TRUE(has_errors(vpl::check("stream S = A .where(").diagnostics));
    EXPECT_TRUE(has_errors(vpl::check("\"").diagnostics));
}

TEST(RobustnessTest, EmptyAndCommentOnlySourcesAreValid) {
    EXPECT_TRUE(vpl::check("").ok());
    EXPECT_TRUE(vpl::check("\n\n# nothing\n").ok());
}

}  // namespace
}  // namespace varpulis::testing
