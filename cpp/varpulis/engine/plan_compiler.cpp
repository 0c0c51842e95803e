// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/plan_compiler.hpp"

#include <algorithm>
#include <unordered_map>

#include "varpulis/engine/plan_compiler_internal.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;
using vpl::OpKind;

namespace detail {

namespace {

/// The context a stream is placed in with `.context(name)`, or empty.
std::string context_of(const vpl::StreamDecl& decl) {
    std::string context;
    for (const auto& op : decl.ops) {
        if (op.kind != OpKind::Context) continue;
        if (const vpl::Expr* c = positional(op); c && c->kind == vpl::ExprKind::Ident) context = c->name;
    }
    return context;
}

bool has_op(const vpl::StreamDecl& decl, OpKind kind) {
    return std::any_of(decl.ops.begin(), decl.ops.end(), [&](const auto& op) { return op.kind == kind; });
}

/// False for the operators that are not a stage of the pipeline: compiled with the source
/// (steps, `.within`, `.not`, `.on`, a join's `.window`), or metadata.
bool is_stage(const vpl::StreamOp& op, const vpl::StreamDecl& decl) {
    switch (op.kind) {
        case OpKind::FollowedBy:
        case OpKind::Within:
        case OpKind::Not:
        case OpKind::Context:
        case OpKind::On:
        case OpKind::Watermark:
        case OpKind::AllowedLateness:
        case OpKind::PartitionBy: return false;
        case OpKind::Window: return decl.source.kind != vpl::SourceKind::Join;
        default: return true;
    }
}

ConnectorConfig connector_config(const vpl::ConnectorDecl& c) {
    ConnectorConfig config{c.name, c.kind, {}, {}};
    for (const auto& p : c.params) {
        config.params[p.name] = p.value->kind == vpl::ExprKind::Ident ? Value(p.value->name) : p.value->value;
    }
    return config;
}

}  // namespace

PlanCompiler::PlanCompiler(const vpl::Program& program, const EngineOptions& options)
    : program_(program), options_(options) {
    for (const auto& stmt : program.statements) {
        if (auto* p = std::get_if<vpl::PatternDecl>(&stmt->node)) patterns_[p->name] = p;
    }
}

Result<Plan> PlanCompiler::compile() && {
    plan_.options = options_;
    plan_.state_budget = std::make_unique<StateBudget>(options_.max_state_bytes);
    plan_.functions = std::make_unique<FunctionTable>();
    for (const auto& stmt : program_.statements) {
        if (auto* c = std::get_if<vpl::ContextDecl>(&stmt->node)) plan_.contexts.push_back(c->name);
        if (auto* c = std::get_if<vpl::ConnectorDecl>(&stmt->node)) plan_.connectors[c->name] = connector_config(*c);
    }
    VP_RETURN_NOT_OK(compile_globals());
    for (const auto& stmt : program_.statements) {
        if (auto* s = std::get_if<vpl::StreamDecl>(&stmt->node)) {
            VP_RETURN_NOT_OK(stream_error(compile_stream(*s, stmt->span), s->name, stmt->span));
        }
    }
    add_routes();
    return std::move(plan_);
}

Status PlanCompiler::compile_globals() {
    std::vector<const vpl::FnDecl*> fns;
    for (const auto& stmt : program_.statements) {
        if (auto* v = std::get_if<vpl::VarDecl>(&stmt->node)) plan_.global_slots.emplace(v->name, plan_.global_slots.size());
        if (auto* a = std::get_if<vpl::AssignStmt>(&stmt->node)) plan_.global_slots.emplace(a->name, plan_.global_slots.size());
        if (auto* f = std::get_if<vpl::FnDecl>(&stmt->node)) fns.push_back(f);
    }
    plan_.globals.resize(plan_.global_slots.size());
    VP_RETURN_NOT_OK(plan_.functions->compile(fns, &plan_.global_slots, options_.functions));
    for (const auto& stmt : program_.statements) {
        if (auto* v = std::get_if<vpl::VarDecl>(&stmt->node)) VP_RETURN_NOT_OK(evaluate_global(v->name, *v->value));
        if (auto* a = std::get_if<vpl::AssignStmt>(&stmt->node)) VP_RETURN_NOT_OK(evaluate_global(a->name, *a->value));
    }
    // Immutable globals (let, const) are constants to the typed fast path of functions.
    std::unordered_map<std::string, Value> constants;
    for (const auto& stmt : program_.statements) {
        if (auto* v = std::get_if<vpl::VarDecl>(&stmt->node); v && v->kind != vpl::VarKind::Var) {
            constants[v->name] = plan_.globals[plan_.global_slots.at(v->name)];
        }
    }
    plan_.functions->compile_typed(fns, std::move(constants));
    return Status::ok();
}

Status PlanCompiler::evaluate_global(const std::string& name, const vpl::Expr& init) {
    VP_ASSIGN_OR_RETURN(auto node, compile_expr(init, scope()));
    EvalContext ctx;
    ctx.globals = &plan_.globals;
    ctx.functions = plan_.functions.get();
    try {
        plan_.globals[plan_.global_slots.at(name)] = node->value(ctx);
    } catch (const EvalError& e) {
        return Status(ErrorCode::Runtime, "initialising '" + name + "': " + e.what(), init.span);
    }
    return Status::ok();
}

Status PlanCompiler::compile_stream(const vpl::StreamDecl& decl, const common::Span& span) {
    if (plan_.streams.size() >= options_.max_streams) {
        return Status(ErrorCode::LimitExceeded, "the program has more than " + std::to_string(options_.max_streams) + " streams", span);
    }
    auto s = std::make_unique<Stream>();
    s->name = decl.name;
    s->symbol = intern(decl.name);
    s->context = context_of(decl);
    const auto& only = options_.only_context;
    if (only && !s->context.empty() && s->context != *only) return Status::ok();  // another thread's stream

    VP_ASSIGN_OR_RETURN(SourceStage source, compile_source(decl));
    s->inputs = std::move(source.inputs);
    if (source.stage) s->ops.push_back(std::move(source.stage));
    if (source.timer) plan_.timers.push_back(std::move(*source.timer));
    if (source.binding) plan_.bindings.push_back(std::move(*source.binding));

    // Operators in source order. A .partition_by applies to the windows and aggregates after it.
    OpSite site{scope(source.self_alias), {}, &options_, plan_.state_budget.get(), decl.name, span};
    for (const auto& op : decl.ops) {
        if (op.kind == OpKind::PartitionBy) {
            if (const vpl::Expr* k = positional(op); k && k->kind == vpl::ExprKind::Ident) site.partition = k->name;
        }
        if (!is_stage(op, decl)) continue;
        VP_ASSIGN_OR_RETURN(auto compiled, compile_op(op, site));
        s->ops.push_back(std::move(compiled));
    }
    s->external = has_op(decl, OpKind::Emit) || has_op(decl, OpKind::Process);
    plan_.writes_console = plan_.writes_console || has_op(decl, OpKind::Print) || has_op(decl, OpKind::Log);
    plan_.streams.push_back(std::move(s));
    return Status::ok();
}

Result<OperatorPtr> PlanCompiler::compile_op(const vpl::StreamOp& op, const OpSite& site) {
    switch (op.kind) {
        case OpKind::Where:
        case OpKind::Filter:
        case OpKind::Having: return compile_filter(op, site);
        case OpKind::Select: return compile_projection(op, site);
        case OpKind::Emit:
        case OpKind::Process:
        case OpKind::Print:
        case OpKind::Log: return compile_output(op, site);
        case OpKind::To: return compile_to(op, site);
        case OpKind::Window: return compile_window(op, site);
        case OpKind::Aggregate: return compile_aggregate(op, site);
        case OpKind::Distinct:
        case OpKind::Limit:
        case OpKind::First: return compile_distinct_limit(op, site);
        default: return invalid(op, std::string(".") + vpl::op_kind_name(op.kind) + "() is not implemented");
    }
}

Result<OperatorPtr> PlanCompiler::compile_to(const vpl::StreamOp& op, const OpSite& site) {
    const vpl::Expr* target = positional(op);
    if (!target || target->kind != vpl::ExprKind::Ident) return invalid(op, ".to() takes a connector name");
    auto it = plan_.connectors.find(target->name);
    if (it == plan_.connectors.end()) return invalid(op, "connector '" + target->name + "' is not declared");
    auto decl = std::find_if(plan_.sinks.begin(), plan_.sinks.end(),
                             [&](const SinkDecl& d) { return d.config.name == target->name; });
    if (decl == plan_.sinks.end()) {
        plan_.sinks.push_back({it->second, site.stream, site.span, std::make_shared<SinkSlot>()});
        decl = plan_.sinks.end() - 1;
    }
    const vpl::Expr* topic = named(op, "topic");
    std::string topic_text = topic ? topic->value.to_display() : it->second.param_string("topic");
    return OperatorPtr(std::make_unique<ToOp>(decl->slot, std::move(topic_text)));
}

void PlanCompiler::add_routes() {
    for (auto& s : plan_.streams) {
        for (Symbol input : s->inputs) {
            if (input >= plan_.routes.size()) plan_.routes.resize(input + 1);
            auto& list = plan_.routes[input];
            if (std::find(list.begin(), list.end(), s.get()) == list.end()) list.push_back(s.get());
        }
    }
}

ExprScope PlanCompiler::scope(const std::string& self_alias) const {
    ExprScope sc;
    sc.globals = &plan_.global_slots;
    sc.functions = plan_.functions.get();
    sc.self_alias = self_alias;
    return sc;
}

}  // namespace detail

namespace {

/// The contexts that streams use, in declaration order, with the core each is pinned to.
std::vector<ContextPlan> used_contexts(const vpl::Program& program, const Plan& plan) {
    std::vector<ContextPlan> used;
    for (const auto& stmt : program.statements) {
        auto* c = std::get_if<vpl::ContextDecl>(&stmt->node);
        if (!c || std::none_of(plan.streams.begin(), plan.streams.end(), [&](const auto& s) { return s->context == c->name; })) {
            continue;
        }
        ContextPlan context{c->name, -1, {}};
        for (const auto& p : c->params) {
            if (p.name == "cores" && p.value && !p.value->children.empty() && p.value->children[0]->value.is_int()) {
                context.core = static_cast<int>(p.value->children[0]->value.as_int());
            }
        }
        used.push_back(std::move(context));
    }
    return used;
}

}  // namespace

Result<Plan> compile_plan(const vpl::Program& program, const EngineOptions& options) {
    return detail::PlanCompiler(program, options).compile();
}

Result<ProgramPlan> compile_program(const vpl::Program& program, const EngineOptions& options) {
    ProgramPlan out;
    VP_ASSIGN_OR_RETURN(out.program, compile_plan(program, options));
    out.contexts = used_contexts(program, out.program);
    if (out.contexts.size() > options.max_contexts) {
        return Status(ErrorCode::LimitExceeded, "the program uses " + std::to_string(out.contexts.size()) +
                                                    " contexts; the limit is " + std::to_string(options.max_contexts) + " (each is a thread)");
    }
    for (auto& context : out.contexts) {
        EngineOptions o = options;
        o.only_context = context.name;
        o.max_state_bytes = options.max_state_bytes / out.contexts.size();
        VP_ASSIGN_OR_RETURN(context.plan, compile_plan(program, o));
    }
    return out;
}

Status stream_error(const Status& st, const std::string& stream, const common::Span& span) {
    if (st.is_ok()) return st;
    return Status(st.code(), "stream '" + stream + "': " + st.message(), st.span().known() ? st.span() : span);
}

}  // namespace varpulis::engine
