// SPDX-License-Identifier: Apache-2.0
#pragma once

// The VPL front end: source text → AST, and AST → diagnostics. Every tool (CLI, server, Python)
// goes through these two functions, so they all report the same errors the same way.

#include <optional>
#include <string_view>

#include "varpulis/vpl/ast.hpp"
#include "varpulis/vpl/diagnostic.hpp"
#include "varpulis/vpl/expand.hpp"

namespace varpulis::vpl {

struct FrontendOptions {
    int max_nesting = 128;                 ///< brackets open at once
    /// Levels an expression may nest, brackets and prefix operators, `**`, `if` and `=>` alike:
    /// the front end's depth budget (see token_source_internal.hpp), which bounds the recursion
    /// of every later pass together with max_ast_depth.
    int max_expr_depth = 256;
    /// Depth of the syntax tree (a chain of 1,000 `+` is 1,000 deep): checked once after the
    /// transform, so fold, validate, compile, evaluate and AST JSON can recurse safely.
    size_t max_ast_depth = 2000;
    size_t stack_budget = 2 * 1024 * 1024;  ///< bytes of stack the parser may use before it gives up
    /// Tokens the full-context (LL) pass after a failed SLL pass may read, per token of input,
    /// beyond a base of 2,000. ANTLR's full-context prediction reads ahead to the error from
    /// every decision before it: a 2.6 KB block lambda took 20 s, quadratic in its length. Past
    /// the budget (or 500 ms), the SLL pass's error is reported.
    size_t ll_lookahead_per_token = 4;
    ExpandLimits expand;
};

struct ParseResult {
    std::optional<Program> program;  ///< present unless there was a syntax error
    Diagnostics diagnostics;         ///< errors and warnings, in source order

    bool ok() const { return program.has_value() && !has_errors(diagnostics); }
};

/// Expand, parse and constant-fold `source`. Syntax errors stop at the first one (code E000).
ParseResult parse(std::string_view source, const FrontendOptions& options = {});

/// Parse, then validate: the diagnostics also carry semantic errors (E0xx) and warnings (W0xx).
ParseResult check(std::string_view source, const FrontendOptions& options = {});

}  // namespace varpulis::vpl
