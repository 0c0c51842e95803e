// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/ast_walk.hpp"

namespace varpulis::vpl {

namespace {

void slot(ExprPtr& e, const ExprSlotVisitor& visit) {
    if (e) visit(e);
}

void args(std::vector<NamedArg>& list, const ExprSlotVisitor& visit) {
    for (auto& a : list) slot(a.value, visit);
}

void source(StreamSource& s, const ExprSlotVisitor& visit) {
    args(s.args, visit);
    for (auto& input : s.inputs) walk_exprs(input.ops, visit);
    for (auto& step : s.steps) {
        slot(step.filter, visit);
        slot(step.within, visit);
    }
}

void sase(SaseNode& n, const ExprSlotVisitor& visit) {
    slot(n.filter, visit);
    for (auto& c : n.children) sase(c, visit);
}

}  // namespace

void walk_exprs(std::vector<StreamOp>& ops, const ExprSlotVisitor& visit) {
    for (auto& op : ops) {
        slot(op.filter, visit);
        for (auto& a : op.args) {
            slot(a.value, visit);
            walk_exprs(a.chain, visit);
        }
    }
}

void walk_exprs(Block& block, const ExprSlotVisitor& visit) {
    for (auto& s : block) walk_exprs(*s, visit);
}

void walk_exprs(Stmt& stmt, const ExprSlotVisitor& visit) {
    std::visit(
        [&](auto& n) {
            using T = std::decay_t<decltype(n)>;
            if constexpr (std::is_same_v<T, ContextDecl> || std::is_same_v<T, ConnectorDecl>) {
                args(n.params, visit);
            } else if constexpr (std::is_same_v<T, StreamDecl>) {
                source(n.source, visit);
                walk_exprs(n.ops, visit);
            } else if constexpr (std::is_same_v<T, PatternDecl>) {
                sase(n.expr, visit);
                slot(n.within, visit);
            } else if constexpr (std::is_same_v<T, VarDecl> || std::is_same_v<T, AssignStmt> ||
                                 std::is_same_v<T, ReturnStmt>) {
                slot(n.value, visit);
            } else if constexpr (std::is_same_v<T, ConfigDecl>) {
                args(n.entries, visit);
            } else if constexpr (std::is_same_v<T, FnDecl>) {
                walk_exprs(n.body, visit);
            } else if constexpr (std::is_same_v<T, IfStmt>) {
                for (auto& b : n.branches) {
                    slot(b.condition, visit);
                    walk_exprs(b.body, visit);
                }
                walk_exprs(n.else_body, visit);
            } else if constexpr (std::is_same_v<T, ForStmt>) {
                slot(n.iterable, visit);
                walk_exprs(n.body, visit);
            } else if constexpr (std::is_same_v<T, WhileStmt>) {
                slot(n.condition, visit);
                walk_exprs(n.body, visit);
            } else if constexpr (std::is_same_v<T, EmitStmt>) {
                args(n.fields, visit);
            } else if constexpr (std::is_same_v<T, ExprStmt>) {
                slot(n.expr, visit);
            }
        },
        stmt.node);
}

void walk_tree(const Expr& e, const std::function<void(const Expr&)>& visit) {
    visit(e);
    for (const auto& c : e.children) {
        if (c) walk_tree(*c, visit);
    }
    for (const auto& s : e.block) {
        walk_exprs(*s, [&](ExprPtr& slot) { walk_tree(*slot, visit); });
    }
}

}  // namespace varpulis::vpl
