// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/depth.hpp"

#include <utility>
#include <vector>

#include "varpulis/vpl/ast_walk.hpp"

namespace varpulis::vpl {

std::optional<common::Span> find_too_deep(Program& program, size_t limit) {
    std::vector<std::pair<Expr*, size_t>> pending;  // an explicit stack: this pass must not recurse
    std::optional<common::Span> found;
    auto push_roots = [&](Block& block, size_t depth) {
        walk_exprs(block, [&](ExprPtr& slot) { pending.emplace_back(slot.get(), depth); });
    };
    for (auto& stmt : program.statements) {
        walk_exprs(*stmt, [&](ExprPtr& slot) { pending.emplace_back(slot.get(), 1); });
        while (!pending.empty() && !found) {
            auto [e, depth] = pending.back();
            pending.pop_back();
            if (depth > limit) {
                found = e->span;
                break;
            }
            for (auto& c : e->children) {
                if (c) pending.emplace_back(c.get(), depth + 1);
            }
            push_roots(e->block, depth + 1);
        }
        if (found) return found;
    }
    return std::nullopt;
}

void dismantle(Program& program) {
    std::vector<ExprPtr> pending;  // owners taken out of their slots, children first freed of theirs
    const auto take = [&pending](ExprPtr& slot) { pending.push_back(std::move(slot)); };
    walk_exprs(program.statements, take);
    while (!pending.empty()) {
        ExprPtr e = std::move(pending.back());
        pending.pop_back();
        if (e.use_count() != 1) continue;  // shared: its last owner frees it
        for (auto& c : e->children) {
            if (c) pending.push_back(std::move(c));
        }
        walk_exprs(e->block, take);
    }  // each node is freed here, without children left to recurse into
    program.statements.clear();
}

}  // namespace varpulis::vpl
