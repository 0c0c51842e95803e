// SPDX-License-Identifier: Apache-2.0
#pragma once

// Visit every root expression slot of the AST (filters, arguments, initialisers, function bodies),
// so passes such as constant folding and validation need not know every statement shape.

#include <functional>

#include "varpulis/vpl/ast.hpp"

namespace varpulis::vpl {

/// Called with each root expression slot; the slot may be replaced. Null slots are skipped.
using ExprSlotVisitor = std::function<void(ExprPtr& slot)>;

void walk_exprs(Block& block, const ExprSlotVisitor& visit);
void walk_exprs(Stmt& stmt, const ExprSlotVisitor& visit);
void walk_exprs(std::vector<StreamOp>& ops, const ExprSlotVisitor& visit);

/// Call `visit` on `e` and every expression below it (pre-order).
void walk_tree(const Expr& e, const std::function<void(const Expr&)>& visit);

}  // namespace varpulis::vpl
