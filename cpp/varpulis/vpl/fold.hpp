// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "varpulis/vpl/ast.hpp"

namespace varpulis::vpl {

/// Replace arithmetic on literals by its result (`-1`, `3.0 / 1000.0`, `2 ** 10`, `"a" + "b"`).
/// Operations whose result the runtime would turn into null (division by zero, overflow) stay.
void fold_constants(Program& program);

/// Fold one expression tree and return the (possibly new) root.
ExprPtr fold_expr(ExprPtr e);

}  // namespace varpulis::vpl
