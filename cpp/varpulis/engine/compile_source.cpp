// SPDX-License-Identifier: Apache-2.0
// A stream's source: an event type or stream, `.from(Connector)`, merge(...), timer(...) and
// join(...); sequences and patterns are in compile_sequence.cpp.
#include <algorithm>
#include <map>

#include "varpulis/engine/join.hpp"
#include "varpulis/engine/plan_compiler_internal.hpp"

namespace varpulis::engine::detail {

using common::ErrorCode;
using common::Result;
using common::Status;
using vpl::ExprKind;
using vpl::OpKind;

namespace {

/// The key expression `Source.field` of each source named in a join's `.on(...)` equalities.
std::map<std::string, const vpl::Expr*> join_keys(const vpl::StreamDecl& decl) {
    std::map<std::string, const vpl::Expr*> keys;
    for (const auto& op : decl.ops) {
        if (op.kind != OpKind::On || !positional(op)) continue;
        std::vector<const vpl::Expr*> pending{positional(op)};
        while (!pending.empty()) {
            const vpl::Expr* e = pending.back();
            pending.pop_back();
            if (e->kind != ExprKind::Binary) continue;
            if (e->binary_op == vpl::BinaryOp::And) {
                pending.push_back(e->children[0].get());
                pending.push_back(e->children[1].get());
            } else if (e->binary_op == vpl::BinaryOp::Eq) {
                for (const auto& side : e->children) {
                    if (side->kind == ExprKind::Member && side->children[0]->kind == ExprKind::Ident) {
                        keys.emplace(side->children[0]->name, side.get());
                    }
                }
            }
        }
    }
    return keys;
}

}  // namespace

Result<SourceStage> PlanCompiler::compile_source(const vpl::StreamDecl& decl) const {
    const vpl::StreamSource& src = decl.source;
    bool has_steps = std::any_of(decl.ops.begin(), decl.ops.end(), [](const auto& op) { return op.kind == OpKind::FollowedBy; });
    switch (src.kind) {
        case vpl::SourceKind::Named: {
            if (has_steps) return compile_sequence(decl);
            if (auto it = patterns_.find(src.name); it != patterns_.end()) return compile_pattern(*it->second);
            SourceStage out;
            out.inputs.push_back(intern(src.name));
            out.self_alias = src.alias;
            return out;
        }
        case vpl::SourceKind::Kleene:
        case vpl::SourceKind::Sequence: return compile_sequence(decl);
        case vpl::SourceKind::From: return compile_from(decl, has_steps);
        case vpl::SourceKind::Merge: return compile_merge(src);
        case vpl::SourceKind::Join: return compile_join(decl);
        case vpl::SourceKind::Timer: return compile_timer(decl);
    }
    return Status(ErrorCode::Invalid, "unsupported stream source", src.span);
}

Result<SourceStage> PlanCompiler::compile_from(const vpl::StreamDecl& decl, bool has_steps) const {
    const vpl::StreamSource& src = decl.source;
    SourceStage out;
    if (has_steps) {
        VP_ASSIGN_OR_RETURN(out, compile_sequence(decl));
    }
    out.inputs.insert(out.inputs.begin(), intern(src.name));
    SourceBinding binding{decl.name, src.name, src.connector, {}};
    for (const auto& a : src.args) {
        binding.params[a.name] = a.value->kind == ExprKind::Ident ? Value(a.value->name) : a.value->value;
    }
    out.binding = std::move(binding);
    return out;
}

Result<SourceStage> PlanCompiler::compile_merge(const vpl::StreamSource& src) const {
    SourceStage out;
    std::vector<MergeFilterOp::Input> inputs;
    for (const auto& in : src.inputs) {
        MergeFilterOp::Input input{intern(in.source), nullptr};
        for (const auto& op : in.ops) {
            if (op.kind != OpKind::Where || !positional(op)) continue;
            VP_ASSIGN_OR_RETURN(input.filter, compile_expr(*positional(op), scope()));
        }
        out.inputs.push_back(input.type);
        inputs.push_back(std::move(input));
    }
    out.stage = std::make_unique<MergeFilterOp>(std::move(inputs));
    return out;
}

Result<SourceStage> PlanCompiler::compile_timer(const vpl::StreamDecl& decl) const {
    const vpl::StreamSource& src = decl.source;
    TimerSpec timer;
    timer.stream = decl.name;
    timer.event_type = intern("Timer_" + decl.name);
    for (const auto& a : src.args) {
        auto d = duration_of(a.value.get());
        if (!d) return Status(ErrorCode::Invalid, "timer() takes durations", a.span);
        (a.name.empty() ? timer.interval_ns : timer.initial_delay_ns) = *d;
    }
    if (timer.interval_ns <= 0) return Status(ErrorCode::Invalid, "timer() needs a positive interval", src.span);
    SourceStage out;
    out.inputs.push_back(timer.event_type);
    out.timer = timer;
    return out;
}

Result<SourceStage> PlanCompiler::compile_join(const vpl::StreamDecl& decl) const {
    int64_t window = 60'000'000'000;
    for (const auto& op : decl.ops) {
        if (op.kind != OpKind::Window) continue;
        auto d = duration_of(positional(op));
        if (!d) return invalid(op, "a join .window() needs a duration");
        window = *d;
    }
    auto keys = join_keys(decl);
    SourceStage out;
    std::vector<JoinSource> sources;
    for (const auto& in : decl.source.inputs) {
        JoinSource src;
        src.name = intern(in.source);
        src.label = in.name;
        auto key = keys.count(in.name) ? keys.find(in.name) : keys.find(in.source);
        // `Source.field` read on the source's own event: the field.
        if (key != keys.end()) src.key = field_key(key->second->name, scope());
        for (const auto& op : in.ops) {
            if (op.kind == OpKind::Where && positional(op)) {
                VP_ASSIGN_OR_RETURN(src.filter, compile_expr(*positional(op), scope()));
            }
        }
        out.inputs.push_back(src.name);
        sources.push_back(std::move(src));
    }
    out.stage = std::make_unique<JoinOp>(std::move(sources), window, plan_.state_budget.get());
    return out;
}

}  // namespace varpulis::engine::detail
