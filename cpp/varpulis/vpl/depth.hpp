// SPDX-License-Identifier: Apache-2.0
#pragma once

// The syntax tree's depth, measured without recursion: the front end refuses a program deeper
// than its budget once, after the transform, so every later recursive pass (fold, validate,
// compile, evaluate, AST JSON) stays within a known depth.

#include <cstddef>
#include <optional>

#include "varpulis/common/span.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::vpl {

/// Return the position of the first expression deeper than `limit` (a lambda's body counts one
/// level below the lambda), or nothing when the whole program is within it.
std::optional<common::Span> find_too_deep(Program& program, size_t limit);

}  // namespace varpulis::vpl
