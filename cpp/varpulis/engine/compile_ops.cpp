// SPDX-License-Identifier: Apache-2.0
// The `.op(...)` stages of a stream, one function per family; `.to()` is in plan_compiler.cpp,
// as it declares the plan's sinks.
#include "varpulis/engine/aggregate.hpp"
#include "varpulis/engine/operators.hpp"
#include "varpulis/engine/plan_compiler_internal.hpp"
#include "varpulis/engine/window.hpp"

namespace varpulis::engine::detail {

using common::ErrorCode;
using common::Result;
using common::Status;
using vpl::ExprKind;
using vpl::OpKind;

const vpl::Expr* positional(const vpl::StreamOp& op, size_t index) {
    size_t seen = 0;
    for (const auto& a : op.args) {
        if (!a.name.empty() || !a.value) continue;
        if (seen++ == index) return a.value.get();
    }
    return nullptr;
}

const vpl::Expr* named(const vpl::StreamOp& op, std::string_view name) {
    for (const auto& a : op.args) {
        if (a.name == name) return a.value.get();
    }
    return nullptr;
}

std::optional<int64_t> duration_of(const vpl::Expr* e) {
    if (e && e->kind == ExprKind::Literal && e->value.kind() == Value::Kind::Duration) return e->value.as_duration().ns;
    return std::nullopt;
}

Status invalid(const vpl::StreamOp& op, const std::string& message) { return Status(ErrorCode::Invalid, message, op.span); }

ExprNode field_key(const std::string& field, const ExprScope& scope) {
    vpl::Expr ident;
    ident.kind = ExprKind::Ident;
    ident.name = field;
    auto key = compile_expr(ident, scope);
    return key ? std::move(*key) : nullptr;
}

namespace {

/// The `name: value` arguments of `.select` and `.emit` (a bare name `x` is `x: x`).
Result<std::vector<FieldItem>> field_items(const vpl::StreamOp& op, const ExprScope& scope) {
    std::vector<FieldItem> items;
    for (const auto& a : op.args) {
        if (!a.value) continue;
        if (op.kind == OpKind::Emit && a.name == "context") continue;  // a routing hint, not a field
        std::string name = a.name.empty() && a.value->kind == ExprKind::Ident ? a.value->name : a.name;
        if (name.empty()) return invalid(op, "arguments are name: value pairs");
        VP_ASSIGN_OR_RETURN(auto value, compile_expr(*a.value, scope));
        items.push_back({intern(name), std::move(value)});
    }
    return items;
}

/// The key of the stream's partition for a window or aggregate, or null when unpartitioned.
ExprNode partition_key(const OpSite& site) {
    return site.partition.empty() ? ExprNode() : field_key(site.partition, site.scope);
}

}  // namespace

Result<OperatorPtr> compile_filter(const vpl::StreamOp& op, const OpSite& site) {
    if (!positional(op)) return invalid(op, "a condition is required");
    VP_ASSIGN_OR_RETURN(auto cond, compile_expr(*positional(op), site.scope));
    return OperatorPtr(std::make_unique<WhereOp>(std::move(cond)));
}

Result<OperatorPtr> compile_projection(const vpl::StreamOp& op, const OpSite& site) {
    VP_ASSIGN_OR_RETURN(auto items, field_items(op, site.scope));
    return OperatorPtr(std::make_unique<SelectOp>(std::move(items)));
}

Result<OperatorPtr> compile_output(const vpl::StreamOp& op, const OpSite& site) {
    if (op.kind == OpKind::Emit) {
        VP_ASSIGN_OR_RETURN(auto items, field_items(op, site.scope));
        return OperatorPtr(std::make_unique<EmitOp>(std::move(items)));
    }
    if (op.kind == OpKind::Process) {
        if (!positional(op)) return invalid(op, ".process() takes a function call");
        VP_ASSIGN_OR_RETURN(auto call, compile_expr(*positional(op), site.scope));
        return OperatorPtr(std::make_unique<ProcessOp>(std::move(call)));
    }
    if (op.kind == OpKind::Print) {
        std::vector<ExprNode> items;
        for (const auto& a : op.args) {
            VP_ASSIGN_OR_RETURN(auto item, compile_expr(*a.value, site.scope));
            items.push_back(std::move(item));
        }
        return OperatorPtr(std::make_unique<PrintOp>(std::move(items)));
    }
    // .log
    const vpl::Expr* level = named(op, "level");
    const vpl::Expr* message = named(op, "message");
    ExprNode data;
    if (const vpl::Expr* d = named(op, "data")) {
        VP_ASSIGN_OR_RETURN(data, compile_expr(*d, site.scope));
    }
    return OperatorPtr(std::make_unique<LogOp>(level ? level->value.to_display() : "info",
                                               message ? message->value.to_display() : "", std::move(data)));
}

Result<OperatorPtr> compile_window(const vpl::StreamOp& op, const OpSite& site) {
    WindowSpec spec;
    const vpl::Expr* size = positional(op);
    const vpl::Expr* slide = named(op, "sliding");
    if (auto gap = duration_of(named(op, "session"))) {
        spec.kind = WindowSpec::Kind::Session;
        spec.size = *gap;
    } else if (size && size->value.is_int()) {
        spec.size = size->value.as_int();
        spec.kind = slide ? WindowSpec::Kind::CountSliding : WindowSpec::Kind::CountTumbling;
        spec.slide = slide && slide->value.is_int() ? slide->value.as_int() : 1;
    } else if (auto d = duration_of(size)) {
        spec.size = *d;
        spec.kind = slide ? WindowSpec::Kind::TimeSliding : WindowSpec::Kind::TimeTumbling;
        spec.slide = duration_of(slide).value_or(60'000'000'000);
    } else {
        return invalid(op, ".window() takes a count, a duration or session: gap");
    }
    if (spec.size <= 0) return invalid(op, "window size must be positive");
    return OperatorPtr(std::make_unique<WindowOp>(spec, partition_key(site), site.budget));
}

Result<OperatorPtr> compile_aggregate(const vpl::StreamOp& op, const OpSite& site) {
    std::vector<AggregateOp::Item> items;
    for (const auto& a : op.args) {
        if (a.name.empty() || !a.value) return invalid(op, ".aggregate() takes alias: function(...) pairs");
        VP_ASSIGN_OR_RETURN(auto agg, engine::compile_aggregate(*a.value, site.scope));
        items.push_back({intern(a.name), std::move(agg)});
    }
    return OperatorPtr(std::make_unique<AggregateOp>(std::move(items), partition_key(site)));
}

Result<OperatorPtr> compile_distinct_limit(const vpl::StreamOp& op, const OpSite& site) {
    if (op.kind == OpKind::First) return OperatorPtr(std::make_unique<LimitOp>(1));
    if (op.kind == OpKind::Limit) {
        const vpl::Expr* n = positional(op);
        if (!n || !n->value.is_int()) return invalid(op, ".limit() takes an integer");
        return OperatorPtr(std::make_unique<LimitOp>(n->value.as_int()));
    }
    ExprNode key;
    if (positional(op)) {
        VP_ASSIGN_OR_RETURN(key, compile_expr(*positional(op), site.scope));
    }
    return OperatorPtr(std::make_unique<DistinctOp>(std::move(key), site.options->distinct_capacity, site.budget));
}

}  // namespace varpulis::engine::detail
