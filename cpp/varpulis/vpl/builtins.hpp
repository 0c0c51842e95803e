// SPDX-License-Identifier: Apache-2.0
#pragma once

// The catalogue of what VPL offers: scalar builtins and their arities, aggregate functions and
// the stream operators the engine executes. Validation and the engine both read it, so they
// cannot disagree.

#include <optional>
#include <string_view>

#include "varpulis/vpl/ast.hpp"

namespace varpulis::vpl {

/// Number of arguments a function accepts: [min, max]; max < 0 means "any number".
struct Arity {
    int min = 0;
    int max = 0;
    bool accepts(size_t n) const { return static_cast<int>(n) >= min && (max < 0 || static_cast<int>(n) <= max); }
};

/// Return the arity of a scalar builtin (`abs`, `to_string`...), or nothing if there is none.
std::optional<Arity> builtin_arity(std::string_view name);

/// Return the arity of an aggregate function (`count`, `sum`, `ema`...), or nothing.
std::optional<Arity> aggregate_arity(std::string_view name);

/// Return true when the engine executes this stream operator; the others parse but are
/// rejected with E090.
bool op_is_implemented(OpKind kind);

/// Return the named parameters an operator accepts, or nothing when it takes any.
std::optional<std::vector<std::string_view>> op_named_params(OpKind kind);

/// Return the parameters a connector kind understands, or nothing for unknown kinds.
std::optional<std::vector<std::string_view>> connector_params(std::string_view kind);

}  // namespace varpulis::vpl
