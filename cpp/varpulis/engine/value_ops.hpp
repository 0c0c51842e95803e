// SPDX-License-Identifier: Apache-2.0
#pragma once

// The operators of VPL on dynamic values. Failure (a type mismatch, division by zero, overflow)
// gives null, which a filter treats as false: the reference's null propagation.

#include "varpulis/common/value.hpp"
#include "varpulis/vpl/ast.hpp"

namespace varpulis::engine {

using common::Value;

/// The largest string and array an expression may build. Past them the event fails with a
/// runtime error (its stream's work on it stops), instead of a loop doubling a string until the
/// process runs out of memory. Events arriving from outside have their own, smaller limits
/// (EventLimits: 256 KiB strings).
inline constexpr size_t kMaxStringBytes = size_t{16} << 20;
inline constexpr size_t kMaxArrayItems = 1'000'000;

/// Arrays and maps share what they hold, so `a = push(a, a)` in a loop doubles a value's size
/// as written out (JSON, display, checkpoint) at each turn while its memory grows by one item,
/// and deepens it by one level. A value built by an expression may be at most this deep, and
/// hold at most kMaxArrayItems values and 4 x kMaxStringBytes of strings counted as written out.
inline constexpr size_t kMaxValueDepth = 64;

/// Throw the runtime error of a value past the limits above; nothing otherwise. Costs a walk of
/// the containers inside `v` (none for a flat array), stopping at the first limit.
void check_value_size(const Value& v);

/// The number of integers from `from` (included) towards `to` (excluded) by `step`, without
/// overflow whatever the bounds; 0 for an empty range or a zero step.
size_t range_length(int64_t from, int64_t to, int64_t step);

/// Throw the runtime error of a string of `bytes` past kMaxStringBytes; nothing otherwise.
void check_string_size(size_t bytes);
/// Throw the runtime error of an array of `items` past kMaxArrayItems; nothing otherwise.
void check_array_size(size_t items);

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
