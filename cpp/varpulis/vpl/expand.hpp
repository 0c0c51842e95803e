// SPDX-License-Identifier: Apache-2.0
#pragma once

// Textual steps that run before lexing: removing the common indentation of the whole source
// (programs embedded in Python strings or JSON are often indented) and expanding compile-time
// `for V in a..b:` loops written at column 0 (used by the Mandelbrot examples to declare contexts
// and streams).

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "varpulis/vpl/diagnostic.hpp"

namespace varpulis::vpl {

/// Where a line of expanded text came from.
struct LineOrigin {
    uint32_t line = 0;          ///< 1-based line in the original source
    uint32_t column_shift = 0;  ///< columns removed from its start (indentation stripped)
};

/// Source text after expansion, with a map from its lines back to the original.
struct ExpandedSource {
    std::string text;
    std::vector<LineOrigin> origins;  ///< origins[i] describes line i + 1 of text

    /// Map a position in `text` to the original source.
    common::Span to_original(uint32_t line, uint32_t column) const;
};

struct ExpandLimits {
    int max_iterations = 10'000;      ///< per loop
    int max_passes = 10;              ///< nesting depth of compile-time loops
    /// Lines after expansion: each may declare a stream, and a stream costs the front end ~3 KB
    /// and the engine more (2,000,000 let 67 bytes make 500,000 streams and 1.3 GB in `check`).
    size_t max_lines = 100'000;
};

/// Dedent and expand `source`. On error, returns the diagnostic instead.
std::variant<ExpandedSource, Diagnostic> expand_source(std::string_view source, const ExpandLimits& limits = {});

}  // namespace varpulis::vpl
