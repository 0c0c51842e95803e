// SPDX-License-Identifier: Apache-2.0
#pragma once

// The syntax tree's depth, measured without recursion: the front end refuses a program deeper
// than its budget once, after the transform, so every later recursive pass (fold, validate,
// compile, evaluate, AST JSON, the tree's destructor) stays within a known depth. A refused tree
// is freed without recursion too.

#include <cstddef>
#include <optional>

#include "varpulis/common/span.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::vpl {

/// Return the position of the first expression deeper than `limit` (a lambda's body counts one
/// level below the lambda), or nothing when the whole program is within it.
std::optional<common::Span> find_too_deep(Program& program, size_t limit);

/// Free the expressions of a program that may be deeper than any budget (one the front end
/// refuses) one node at a time, and leave it without statements. Its destructor would recurse
/// once per level: 90,000 levels overflow the stack.
void dismantle(Program& program);

}  // namespace varpulis::vpl
