// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "varpulis/common/span.hpp"

namespace varpulis::vpl {

enum class Severity { Error, Warning };

/// One finding about a VPL program: a syntax error, a validation error or a warning.
struct Diagnostic {
    Severity severity = Severity::Error;
    std::string code;     ///< "E000" for syntax errors, "E0xx"/"W0xx" for validation
    std::string message;
    std::string hint;     ///< may be empty
    common::Span span;    ///< position in the original source (1-based)
};

using Diagnostics = std::vector<Diagnostic>;

/// Return true when any diagnostic is an error.
bool has_errors(const Diagnostics& diagnostics);

/// The first error, or null when there is none (a program with only warnings runs).
const Diagnostic* first_error(const Diagnostics& diagnostics);

/// One line: `line:col: error[E0xx] message (hint: ...)`, for answers and logs.
std::string one_line(const Diagnostic& d);

/// Return "error" or "warning".
const char* severity_name(Severity severity);

/// Format one diagnostic as `line:col: error[E0xx] message`, the hint, and the source line with
/// a caret under the column. `file`, when given, prefixes the position.
std::string format_diagnostic(const Diagnostic& d, std::string_view source, std::string_view file = {});

/// Format every diagnostic, separated by blank lines.
std::string format_diagnostics(const Diagnostics& ds, std::string_view source, std::string_view file = {});

/// Return line `line` (1-based) of `source` without its line terminator, or "" if out of range.
std::string_view source_line(std::string_view source, uint32_t line);

}  // namespace varpulis::vpl
