// SPDX-License-Identifier: Apache-2.0
// Stream-level validation: sources, operator order and the shape of operator arguments.
#include <algorithm>

#include "varpulis/vpl/builtins.hpp"
#include "varpulis/vpl/validator_internal.hpp"

namespace varpulis::vpl::detail {

namespace {

std::string op_label(const StreamOp& op) {
    return op.kind == OpKind::FollowedBy ? "->" : std::string(".") + op_kind_name(op.kind) + "()";
}

size_t count_positional(const StreamOp& op) {
    return static_cast<size_t>(std::count_if(op.args.begin(), op.args.end(), [](const OpArg& a) { return a.name.empty(); }));
}

const OpArg* find_named(const StreamOp& op, std::string_view name) {
    for (const auto& a : op.args) {
        if (a.name == name) return &a;
    }
    return nullptr;
}

const Expr* first_positional(const StreamOp& op) {
    for (const auto& a : op.args) {
        if (a.name.empty()) return a.value.get();
    }
    return nullptr;
}

bool is_literal_of(const Expr* e, Value::Kind kind) {
    return e && e->kind == ExprKind::Literal && e->value.kind() == kind;
}

bool is_arithmetic(const Expr& e) {
    if (e.kind != ExprKind::Binary) return false;
    switch (e.binary_op) {
        case BinaryOp::Add: case BinaryOp::Sub: case BinaryOp::Mul: case BinaryOp::Div: case BinaryOp::Mod:
        case BinaryOp::Pow: return true;
        default: return false;
    }
}

}  // namespace

void Validator::check_stream(const StreamDecl& stream, const Span& at) {
    check_source(stream);
    if ((stream.source.kind == SourceKind::Named || stream.source.kind == SourceKind::Kleene) &&
        stream.source.name == stream.name) {
        error("E008", at, "stream '" + stream.name + "' consumes itself",
              "give the stream a name different from its source");
    }
    bool sequence = stream.source.kind == SourceKind::Sequence || patterns_.count(stream.source.name) > 0 ||
                    std::any_of(stream.ops.begin(), stream.ops.end(),
                                [](const StreamOp& op) { return op.kind == OpKind::FollowedBy; });
    bool seen_window = false, seen_aggregate = false;
    for (const auto& op : stream.ops) {
        if (!op_is_implemented(op.kind)) {
            error("E090", op.span, op_label(op) + " is not implemented", "see the operator catalogue in docs/vpl.md");
            continue;
        }
        check_op(op, stream);
        switch (op.kind) {
            case OpKind::Window:
                if (seen_window) error("E012", op.span, "a stream has at most one .window()");
                seen_window = true;
                break;
            case OpKind::Aggregate:
                if (seen_aggregate) error("E011", op.span, "a stream has at most one .aggregate()");
                if (!seen_window) {
                    warning("W001", op.span, ".aggregate() without a .window() aggregates each event on its own",
                            "add .window(...) before it");
                }
                seen_aggregate = true;
                break;
            case OpKind::Having:
                if (!seen_aggregate) error("E010", op.span, ".having() needs an .aggregate() before it", "use .where()");
                break;
            case OpKind::PartitionBy:
                if (seen_window) {
                    warning("W002", op.span, ".partition_by() after .window(): the window is shared by all partitions",
                            "move .partition_by() before .window()");
                }
                break;
            case OpKind::Within:
            case OpKind::Not:
                if (!sequence) error("E020", op.span, op_label(op) + " is only meaningful in a sequence (->)");
                break;
            case OpKind::On:
                if (stream.source.kind != SourceKind::Join) error("E094", op.span, ".on() needs a join(...) source");
                break;
            default: break;
        }
    }
}

void Validator::check_source(const StreamDecl& stream) {
    const StreamSource& s = stream.source;
    std::vector<std::pair<std::string, Span>> consumed;
    switch (s.kind) {
        case SourceKind::Named:
        case SourceKind::Kleene: consumed.emplace_back(s.name, s.span); break;
        case SourceKind::From:
            consumed.emplace_back(s.name, s.span);
            check_connector_ref(s.connector, s.span);
            for (const auto& a : s.args) check_expr(*a.value);
            break;
        case SourceKind::Merge:
        case SourceKind::Join:
            for (const auto& input : s.inputs) {
                consumed.emplace_back(input.source, input.span);
                for (const auto& op : input.ops) {
                    bool allowed = op.kind == OpKind::Where || (s.kind == SourceKind::Join && op.kind == OpKind::On);
                    if (!allowed) {
                        error("E094", op.span, op_label(op) + " is not allowed on an inline stream",
                              s.kind == SourceKind::Join ? "inline join inputs take .where() and .on()"
                                                         : "inline merge inputs take one .where()");
                        continue;
                    }
                    check_op(op, stream);
                }
            }
            break;
        case SourceKind::Sequence:
            for (const auto& step : s.steps) {
                consumed.emplace_back(step.event_type, step.span);
                if (step.filter) check_expr(*step.filter);
                if (step.within) check_duration_arg(step.within.get(), step.span, ".within()");
            }
            break;
        case SourceKind::Timer: {
            const Expr* interval = nullptr;
            for (const auto& a : s.args) {
                if (a.name.empty() && !interval) {
                    interval = a.value.get();
                } else if (a.name == "initial_delay") {
                    check_duration_arg(a.value.get(), a.span, "initial_delay");
                } else {
                    error("E094", a.span, "timer() takes an interval and an optional initial_delay:");
                }
            }
            check_duration_arg(interval, s.span, "timer()");
            break;
        }
    }
    for (const auto& op : stream.ops) {
        if (op.kind == OpKind::FollowedBy || op.kind == OpKind::Not) consumed.emplace_back(op.event_type, op.span);
    }
    if (events_.empty()) return;  // without declarations, every type is implicit
    for (const auto& [name, at] : consumed) {
        if (!is_declared_name(name)) {
            warning("W030", at, "'" + name + "' is not a declared event type, stream or pattern",
                    "declare it with event " + name + ": ... or check the spelling");
        }
    }
}

void Validator::check_connector_ref(const std::string& name, const Span& at) {
    if (!connectors_.count(name)) {
        error("E030", at, "connector '" + name + "' is not declared", "declare it with connector " + name + " = kind(...)");
    }
}

void Validator::check_duration_arg(const Expr* e, const Span& at, const char* what) {
    if (!is_literal_of(e, Value::Kind::Duration)) {
        error("E061", e ? e->span : at, std::string(what) + " needs a duration such as 5s or 10m");
    }
}

void Validator::check_condition(const StreamOp& op) {
    const Expr* cond = first_positional(op);
    if (!cond || op.args.size() != 1) {
        error("E094", op.span, op_label(op) + " takes exactly one condition");
        return;
    }
    check_expr(*cond);
    if (cond->kind == ExprKind::Literal && !cond->value.is_bool()) {
        error("E060", cond->span, "condition is a " + std::string(cond->value.type_name()) + " literal, not a bool");
    } else if (is_arithmetic(*cond)) {
        warning("W060", cond->span, "condition is an arithmetic expression, not a comparison",
                "compare it with something, e.g. x > 0");
    }
}

void Validator::check_named_params(const StreamOp& op) {
    auto allowed = op_named_params(op.kind);
    if (!allowed) return;
    for (const auto& a : op.args) {
        if (!a.name.empty() && std::find(allowed->begin(), allowed->end(), a.name) == allowed->end()) {
            error("E080", a.span, "unknown parameter '" + a.name + "' for " + op_label(op));
        }
    }
}

void Validator::check_op(const StreamOp& op, const StreamDecl& stream) {
    check_named_params(op);
    for (const auto& a : op.args) {
        if (a.has_order && op.kind != OpKind::OrderBy) error("E094", a.span, "asc/desc only belongs in .order_by()");
        if (!a.chain.empty() || !a.logic.empty()) error("E094", a.span, "unexpected argument form for " + op_label(op));
    }
    switch (op.kind) {
        case OpKind::Where:
        case OpKind::Filter:
        case OpKind::Having: check_condition(op); return;
        case OpKind::Aggregate: check_aggregate(op); return;
        case OpKind::FollowedBy:
        case OpKind::Not:
            if (op.filter) check_expr(*op.filter);
            return;
        default: break;
    }
    check_op_shape(op);
    for (const auto& a : op.args) {
        if (a.value) check_expr(*a.value);
    }
    if (op.kind == OpKind::Emit && !op.emit_as.empty() && !events_.empty() && !events_.count(op.emit_as)) {
        warning("W031", op.span, "'" + op.emit_as + "' is not a declared event type");
    }
    (void)stream;
}

void Validator::check_op_shape(const StreamOp& op) {
    size_t positional = count_positional(op);
    const Expr* first = first_positional(op);
    auto expect_positional = [&](size_t n, const char* form) {
        if (positional != n || op.args.size() != n) error("E094", op.span, op_label(op) + " takes " + form);
    };
    switch (op.kind) {
        case OpKind::Window: {
            const OpArg* session = find_named(op, "session");
            if (session) {
                check_duration_arg(session->value.get(), session->span, "session:");
                if (positional) error("E094", op.span, ".window(session: gap) takes no size");
                return;
            }
            bool count = is_literal_of(first, Value::Kind::Int) && first->value.as_int() > 0;
            bool time = is_literal_of(first, Value::Kind::Duration) && first->value.as_duration().ns > 0;
            if (positional != 1 || (!count && !time)) {
                error("E094", op.span, ".window() takes a positive count (10) or a duration (5m)",
                      "or .window(session: 30s)");
                return;
            }
            if (const OpArg* sliding = find_named(op, "sliding")) {
                bool ok = count ? is_literal_of(sliding->value.get(), Value::Kind::Int)
                                : is_literal_of(sliding->value.get(), Value::Kind::Duration);
                if (!ok) error("E094", sliding->span, "sliding: must be a " + std::string(count ? "count" : "duration") +
                                                          " like the window size");
            }
            return;
        }
        case OpKind::PartitionBy:
            if (positional != 1 || op.args.size() != 1 || first->kind != ExprKind::Ident) {
                error("E094", op.span, ".partition_by() takes one field name");
            }
            return;
        case OpKind::Limit:
            if (positional != 1 || !is_literal_of(first, Value::Kind::Int) || first->value.as_int() < 0) {
                error("E094", op.span, ".limit() takes a non-negative integer");
            }
            return;
        case OpKind::First: expect_positional(0, "no arguments"); return;
        case OpKind::Distinct:
            if (op.args.size() > 1 || positional != op.args.size()) error("E094", op.span, ".distinct() takes at most one expression");
            return;
        case OpKind::Process:
            expect_positional(1, "one function call");
            if (first && first->kind != ExprKind::Call) error("E094", first->span, ".process() takes a function call such as f(x)");
            return;
        case OpKind::Context:
            if (positional != 1 || op.args.size() != 1 || first->kind != ExprKind::Ident) {
                error("E094", op.span, ".context() takes one context name");
            } else if (!contexts_.count(first->name)) {
                error("E031", first->span, "context '" + first->name + "' is not declared",
                      "declare it with context " + first->name);
            }
            return;
        case OpKind::Within:
            expect_positional(1, "one duration");
            if (positional == 1) check_duration_arg(first, op.span, ".within()");
            return;
        case OpKind::AllowedLateness:
            expect_positional(1, "one duration");
            if (positional == 1) check_duration_arg(first, op.span, ".allowed_lateness()");
            return;
        case OpKind::Watermark:
            if (const OpArg* ooo = find_named(op, "out_of_order")) check_duration_arg(ooo->value.get(), ooo->span, "out_of_order:");
            if (positional) error("E094", op.span, ".watermark() takes out_of_order: duration");
            return;
        case OpKind::On: expect_positional(1, "one join condition"); return;
        case OpKind::To:
            if (!first || first->kind != ExprKind::Ident || !op.args[0].name.empty() || positional != 1) {
                error("E094", op.span, ".to() takes a connector name, then named parameters such as topic:");
            } else {
                check_connector_ref(first->name, first->span);
            }
            return;
        case OpKind::Emit:
        case OpKind::Select:
            for (const auto& a : op.args) {
                if (a.name.empty() && a.value->kind != ExprKind::Ident) {
                    error("E094", a.span, op_label(op) + " arguments are name: value pairs", "write field: expression");
                }
                if (op.kind == OpKind::Emit && a.name == "context") {
                    if (a.value->kind != ExprKind::Ident || !contexts_.count(a.value->name)) {
                        error("E031", a.span, "emit context: must name a declared context");
                    }
                }
            }
            return;
        case OpKind::Log:
            if (positional) error("E094", op.span, ".log() takes level:, message: and data:");
            return;
        default: return;
    }
}

void Validator::check_aggregate(const StreamOp& op) {
    if (op.args.empty()) error("E094", op.span, ".aggregate() needs at least one alias: function(...)");
    for (const auto& a : op.args) {
        if (a.name.empty()) {
            error("E094", a.span, ".aggregate() arguments are alias: function(...) pairs", "write total: sum(x)");
            continue;
        }
        if (a.value->kind == ExprKind::Ident) {
            error("E073", a.span, "'" + a.name + ": " + a.value->name + "' is a bare field, not an aggregate",
                  "use last(" + a.value->name + ") or first(" + a.value->name + ")");
            continue;
        }
        check_aggregate_expr(*a.value);
    }
}

void Validator::check_aggregate_expr(const Expr& e) {
    if (e.kind == ExprKind::Binary) {
        check_aggregate_expr(*e.children[0]);
        check_aggregate_expr(*e.children[1]);
        return;
    }
    if (e.kind == ExprKind::Literal) return;
    if (e.kind == ExprKind::Unary) {
        check_aggregate_expr(*e.children[0]);
        return;
    }
    const std::string& name = e.callee_name();
    if (e.kind != ExprKind::Call || name.empty()) {
        error("E073", e.span, "an aggregate item must be an aggregate function such as sum(x)");
        return;
    }
    auto arity = aggregate_arity(name);
    if (!arity) {
        error("E070", e.span, "unknown aggregate function '" + name + "'",
              "aggregates: count sum avg min max stddev first last count_distinct ema");
        return;
    }
    size_t argc = e.children.size() - 1;
    if (name == "ema" && argc != 2) {
        error("E072", e.span, "ema() needs a field and a period: ema(price, 12)");
    } else if (argc < static_cast<size_t>(arity->min)) {
        error("E071", e.span, name + "() needs a field argument", "write " + name + "(field)");
    } else if (!arity->accepts(argc)) {
        error("E051", e.span, "'" + name + "' takes at most " + std::to_string(arity->max) + " argument(s)");
    }
    for (size_t i = 1; i < e.children.size(); ++i) check_expr(*e.children[i], ExprPlace::Aggregate);
}

void Validator::check_pattern(const PatternDecl& pattern) {
    std::vector<const SaseNode*> stack{&pattern.expr};
    while (!stack.empty()) {
        const SaseNode* n = stack.back();
        stack.pop_back();
        if (n->filter) check_expr(*n->filter);
        if (n->kind == SaseNode::Kind::Item && !events_.empty() && !is_declared_name(n->event_type)) {
            warning("W030", n->span, "'" + n->event_type + "' is not a declared event type, stream or pattern");
        }
        for (const auto& c : n->children) stack.push_back(&c);
    }
    if (pattern.within) check_duration_arg(pattern.within.get(), pattern.within->span, "within");
}

}  // namespace varpulis::vpl::detail
