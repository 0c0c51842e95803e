// SPDX-License-Identifier: Apache-2.0
#pragma once

// The operators of VPL on dynamic values. Failure (a type mismatch, division by zero, overflow)
// gives null, which a filter treats as false: the reference's null propagation.

#include "varpulis/common/value.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

using common::Value;

/// Apply a binary operator other than `and`/`or` (those short-circuit in the evaluator).
Value binary_op(vpl::BinaryOp op, const Value& a, const Value& b);

/// Apply a unary operator.
Value unary_op(vpl::UnaryOp op, const Value& v);

/// Return true only for the boolean `true` (filters, `if`, `while`).
inline bool is_true(const Value& v) { return v.is_bool() && v.as_bool(); }

/// Compare two values for ordering: -1, 0, 1, or 2 when they are not comparable. Numbers compare
/// by value whatever their type; strings lexicographically; durations and timestamps by length.
int compare_values(const Value& a, const Value& b);

/// Return the key text used for partitions and distinct sets ("default" style handled by callers).
std::string key_text(const Value& v);

}  // namespace varpulis::engine
