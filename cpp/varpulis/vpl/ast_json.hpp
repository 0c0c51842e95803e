// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>

#include "varpulis/vpl/ast.hpp"

namespace varpulis::vpl {

/// Render the AST as JSON (what `varpulis parse` prints and `varpulis.parse()` returns).
nlohmann::json to_json(const Program& program);
nlohmann::json to_json(const Expr& expr);

/// Convert a value to JSON: durations and timestamps become {"duration_ns": n} / {"timestamp_ns": n}.
nlohmann::json value_to_json(const Value& v);

}  // namespace varpulis::vpl
