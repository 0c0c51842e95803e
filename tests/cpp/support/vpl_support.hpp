// SPDX-License-Identifier: Apache-2.0
#pragma once

// Helpers for front-end tests: parse or check a snippet and look at the result.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "varpulis/vpl/ast_json.hpp"
#include "varpulis/vpl/frontend.hpp"

namespace varpulis::testing {

/// Parse `source`, failing the test with the formatted diagnostics if it does not parse.
inline vpl::Program parse_ok(const std::string& source) {
    vpl::ParseResult r = vpl::parse(source);
    EXPECT_TRUE(r.program.has_value()) << vpl::format_diagnostics(r.diagnostics, source);
    return r.program ? std::move(*r.program) : vpl::Program{};
}

/// Check `source` and expect no errors (warnings allowed).
inline vpl::Program check_ok(const std::string& source) {
    vpl::ParseResult r = vpl::check(source);
    EXPECT_TRUE(r.ok()) << vpl::format_diagnostics(r.diagnostics, source);
    return r.program ? std::move(*r.program) : vpl::Program{};
}

/// Return the codes of every diagnostic of `source`, in order.
inline std::vector<std::string> codes(const std::string& source) {
    std::vector<std::string> out;
    for (const auto& d : vpl::check(source).diagnostics) out.push_back(d.code);
    return out;
}

/// Return the first diagnostic of `source` (failing the test when there is none).
inline vpl::Diagnostic first_diagnostic(const std::string& source) {
    auto ds = vpl::check(source).diagnostics;
    EXPECT_FALSE(ds.empty()) << "expected a diagnostic for:\n" << source.substr(0, 200);
    return ds.empty() ? vpl::Diagnostic{} : ds.front();
}

/// Return the JSON of the only statement of a one-statement program.
inline nlohmann::json statement_json(const std::string& source) {
    vpl::Program p = parse_ok(source);
    EXPECT_EQ(p.statements.size(), 1u) << source;
    nlohmann::json j = vpl::to_json(p);
    return j["statements"].empty() ? nlohmann::json() : j["statements"][0];
}

/// Return the JSON of the expression `expr` (parsed as `let x = expr`).
inline nlohmann::json expr_json(const std::string& expr) { return statement_json("let x = " + expr)["value"]; }

/// Return true when `codes` contains `code`.
inline bool has_code(const std::vector<std::string>& codes, const std::string& code) {
    return std::find(codes.begin(), codes.end(), code) != codes.end();
}

}  // namespace varpulis::testing
