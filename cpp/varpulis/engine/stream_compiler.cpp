// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/stream_compiler.hpp"

#include "varpulis/engine/aggregate.hpp"
#include "varpulis/engine/join.hpp"
#include "varpulis/engine/operators.hpp"
#include "varpulis/engine/window.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;
using vpl::ExprKind;
using vpl::OpKind;

namespace {

const vpl::Expr* positional(const vpl::StreamOp& op, size_t index = 0) {
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

Status invalid(const vpl::StreamOp& op, const std::string& message) {
    return Status(ErrorCode::Invalid, message, op.span);
}

/// Runs several sequence matchers over the same input and concatenates their matches (the
/// alternatives of `pattern P = X OR Y`).
class AnyOfOp final : public Operator {
  public:
    explicit AnyOfOp(std::vector<OperatorPtr> alternatives) : alternatives_(std::move(alternatives)) {}
    void apply(Batch& batch, OpContext& ctx) override {
        Batch out;
        for (auto& alt : alternatives_) {
            Batch copy = batch;
            alt->apply(copy, ctx);
            out.insert(out.end(), copy.begin(), copy.end());
        }
        batch = std::move(out);
    }
    size_t held() const override {
        size_t n = 0;
        for (const auto& a : alternatives_) n += a->held();
        return n;
    }
    nlohmann::json save() const override {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& a : alternatives_) out.push_back(a->save());
        return out;
    }
    Status load(const nlohmann::json& state) override {
        if (!state.is_array() || state.size() != alternatives_.size()) return Status(ErrorCode::Invalid, "pattern state does not match");
        for (size_t i = 0; i < alternatives_.size(); ++i) VP_RETURN_NOT_OK(alternatives_[i]->load(state[i]));
        return Status::ok();
    }

  private:
    std::vector<OperatorPtr> alternatives_;
};

/// The steps of one way a named pattern can match, before compilation.
struct RawStep {
    std::string type;
    const vpl::Expr* filter = nullptr;
    std::string alias;
    bool kleene = false;
    bool negated = false;
};

Result<std::vector<std::vector<RawStep>>> pattern_alternatives(const vpl::SaseNode& n) {
    using K = vpl::SaseNode::Kind;
    auto item = [](const vpl::SaseNode& i) {
        return RawStep{i.event_type, i.filter.get(), i.alias, i.quantifier != 0, i.negated};
    };
    switch (n.kind) {
        case K::Item: return std::vector<std::vector<RawStep>>{{item(n)}};
        case K::Seq: {
            std::vector<RawStep> steps;
            for (const auto& c : n.children) steps.push_back(item(c));
            return std::vector<std::vector<RawStep>>{steps};
        }
        case K::Or: {
            std::vector<std::vector<RawStep>> out;
            for (const auto& c : n.children) {
                VP_ASSIGN_OR_RETURN(auto alts, pattern_alternatives(c));
                out.insert(out.end(), alts.begin(), alts.end());
            }
            return out;
        }
        case K::And: {
            if (n.children.size() != 2) return Status(ErrorCode::Invalid, "AND joins exactly two patterns", n.span);
            VP_ASSIGN_OR_RETURN(auto left, pattern_alternatives(n.children[0]));
            VP_ASSIGN_OR_RETURN(auto right, pattern_alternatives(n.children[1]));
            std::vector<std::vector<RawStep>> out;
            for (const auto& l : left) {
                for (const auto& r : right) {  // both, in either order
                    auto lr = l;
                    lr.insert(lr.end(), r.begin(), r.end());
                    auto rl = r;
                    rl.insert(rl.end(), l.begin(), l.end());
                    out.push_back(std::move(lr));
                    out.push_back(std::move(rl));
                }
            }
            return out;
        }
        case K::Not:
            return Status(ErrorCode::Invalid, "NOT is only supported between the steps of SEQ(...)", n.span);
    }
    return Status(ErrorCode::Invalid, "unsupported pattern", n.span);
}

}  // namespace

StreamCompiler::StreamCompiler(Engine& engine, const vpl::Program& program) : engine_(engine), program_(program) {
    for (const auto& stmt : program.statements) {
        if (auto* p = std::get_if<vpl::PatternDecl>(&stmt->node)) patterns_[p->name] = p;
    }
}

Status StreamCompiler::compile_all() {
    for (const auto& stmt : program_.statements) {
        if (auto* s = std::get_if<vpl::StreamDecl>(&stmt->node)) {
            Status st = compile(*s);
            if (!st.is_ok()) {
                return Status(st.code(), "stream '" + s->name + "': " + st.message(),
                              st.span().known() ? st.span() : stmt->span);
            }
        }
    }
    return Status::ok();
}

ExprScope StreamCompiler::scope(const std::string& self_alias) const {
    ExprScope sc;
    sc.globals = &engine_.global_slots_;
    sc.functions = &engine_.functions_;
    sc.self_alias = self_alias;
    return sc;
}

ExprNode StreamCompiler::field_key(const std::string& field) const {
    vpl::Expr ident;
    ident.kind = ExprKind::Ident;
    ident.name = field;
    auto r = compile_expr(ident, scope());
    return r ? std::move(*r) : nullptr;
}

ExprNode StreamCompiler::key_of(const vpl::StreamOp& partition_by) const {
    const vpl::Expr* e = positional(partition_by);
    auto r = e ? compile_expr(*e, scope()) : Result<ExprNode>(Status(ErrorCode::Invalid, "no key"));
    return r ? std::move(*r) : nullptr;
}

Status StreamCompiler::compile(const vpl::StreamDecl& decl) {
    auto s = std::make_unique<Stream>();
    s->name = decl.name;
    s->symbol = intern(decl.name);
    for (const auto& op : decl.ops) {
        if (op.kind == OpKind::Context) {
            if (const vpl::Expr* c = positional(op); c && c->kind == ExprKind::Ident) s->context = c->name;
        }
    }
    const auto& only = engine_.options_.only_context;
    if (only && !s->context.empty() && s->context != *only) return Status::ok();  // another thread's stream

    std::string self_alias;
    VP_RETURN_NOT_OK(compile_source(decl, *s, self_alias));

    // Operators in source order. A .partition_by applies to the windows and aggregates after it.
    std::string partition;
    bool join = decl.source.kind == vpl::SourceKind::Join;
    ExprScope sc = scope(self_alias);
    for (const auto& op : decl.ops) {
        switch (op.kind) {
            case OpKind::PartitionBy:
                if (const vpl::Expr* k = positional(op); k && k->kind == ExprKind::Ident) partition = k->name;
                continue;
            case OpKind::FollowedBy:
            case OpKind::Within:
            case OpKind::Not:
            case OpKind::Context:
            case OpKind::On:
            case OpKind::Watermark:
            case OpKind::AllowedLateness: continue;  // handled with the source, or metadata
            case OpKind::Window:
                if (join) continue;  // the join window
                break;
            default: break;
        }
        VP_ASSIGN_OR_RETURN(auto compiled, compile_op(op, *s, sc, partition));
        s->ops.push_back(std::move(compiled));
    }
    engine_.streams_.push_back(std::move(s));
    return Status::ok();
}

Status StreamCompiler::compile_source(const vpl::StreamDecl& decl, Stream& s, std::string& self_alias) {
    const vpl::StreamSource& src = decl.source;
    bool has_steps = std::any_of(decl.ops.begin(), decl.ops.end(), [](const auto& op) { return op.kind == OpKind::FollowedBy; });
    switch (src.kind) {
        case vpl::SourceKind::Named:
            if (auto it = patterns_.find(src.name); it != patterns_.end() && !has_steps) return compile_pattern(*it->second, s);
            if (has_steps) return compile_sequence(decl, s);
            s.inputs.push_back(intern(src.name));
            self_alias = src.alias;
            return Status::ok();
        case vpl::SourceKind::Kleene:
        case vpl::SourceKind::Sequence: return compile_sequence(decl, s);
        case vpl::SourceKind::From: {
            s.inputs.push_back(intern(src.name));
            SourceBinding binding{decl.name, src.name, src.connector, {}};
            for (const auto& a : src.args) {
                binding.params[a.name] = a.value->kind == ExprKind::Ident ? Value(a.value->name) : a.value->value;
            }
            engine_.bindings_.push_back(std::move(binding));
            if (has_steps) return compile_sequence(decl, s);
            return Status::ok();
        }
        case vpl::SourceKind::Merge: {
            std::vector<MergeFilterOp::Input> inputs;
            for (const auto& in : src.inputs) {
                MergeFilterOp::Input input{intern(in.source), nullptr};
                for (const auto& op : in.ops) {
                    if (op.kind != OpKind::Where || !positional(op)) continue;
                    VP_ASSIGN_OR_RETURN(input.filter, compile_expr(*positional(op), scope()));
                }
                s.inputs.push_back(input.type);
                inputs.push_back(std::move(input));
            }
            s.ops.push_back(std::make_unique<MergeFilterOp>(std::move(inputs)));
            return Status::ok();
        }
        case vpl::SourceKind::Join: return compile_join(decl, s);
        case vpl::SourceKind::Timer: {
            TimerSpec timer;
            timer.stream = decl.name;
            timer.event_type = intern("Timer_" + decl.name);
            for (const auto& a : src.args) {
                auto d = duration_of(a.value.get());
                if (!d) return Status(ErrorCode::Invalid, "timer() takes durations", a.span);
                (a.name.empty() ? timer.interval_ns : timer.initial_delay_ns) = *d;
            }
            if (timer.interval_ns <= 0) return Status(ErrorCode::Invalid, "timer() needs a positive interval", src.span);
            s.inputs.push_back(timer.event_type);
            engine_.timers_.push_back(timer);
            return Status::ok();
        }
    }
    return Status(ErrorCode::Invalid, "unsupported stream source", src.span);
}

Status StreamCompiler::compile_sequence(const vpl::StreamDecl& decl, Stream& s) {
    const vpl::StreamSource& src = decl.source;
    std::vector<RawStep> raw;
    int64_t within = 0;
    if (src.kind == vpl::SourceKind::Sequence) {
        for (const auto& step : src.steps) {
            raw.push_back({step.event_type, step.filter.get(), step.alias, false, false});
            if (auto d = duration_of(step.within.get())) within = std::max(within, *d);
        }
    } else {
        raw.push_back({src.name, nullptr, src.alias, src.kind == vpl::SourceKind::Kleene, false});
    }
    ExprNode partition;
    std::vector<const vpl::StreamOp*> negations;
    for (const auto& op : decl.ops) {
        if (op.kind == OpKind::FollowedBy) raw.push_back({op.event_type, op.filter.get(), op.alias, op.kleene, false});
        if (op.kind == OpKind::Within) {
            auto d = duration_of(positional(op));
            if (!d) return invalid(op, ".within() needs a duration");
            within = *d;
        }
        if (op.kind == OpKind::Not) negations.push_back(&op);
        if (op.kind == OpKind::PartitionBy && !partition) partition = key_of(op);
        if (op.kind == OpKind::Window || op.kind == OpKind::Aggregate) break;  // later keys are for those
    }
    // Aliases get capture slots in step order.
    std::vector<std::string> aliases;
    for (const auto& r : raw) {
        if (!r.alias.empty() && std::find(aliases.begin(), aliases.end(), r.alias) == aliases.end()) aliases.push_back(r.alias);
    }
    SequenceSpec spec;
    spec.aliases = aliases;
    spec.within_ns = within;
    spec.partition = std::move(partition);
    spec.max_runs = engine_.options_.max_runs_per_partition;
    for (const auto& r : raw) {
        SequenceStep step;
        step.type = intern(r.type);
        step.kleene = r.kleene;
        if (!r.alias.empty()) {
            step.alias = static_cast<int>(std::find(aliases.begin(), aliases.end(), r.alias) - aliases.begin());
        }
        if (r.filter) {
            ExprScope sc = scope(r.alias);
            sc.captures = aliases;
            if (step.alias >= 0) sc.captures[static_cast<size_t>(step.alias)].clear();  // itself: the candidate
            VP_ASSIGN_OR_RETURN(step.filter, compile_expr(*r.filter, sc));
        }
        s.inputs.push_back(step.type);
        spec.steps.push_back(std::move(step));
    }
    for (const auto* op : negations) {
        SequenceNegation neg;
        neg.type = intern(op->event_type);
        if (op->filter) {
            ExprScope sc = scope();
            sc.captures = aliases;
            VP_ASSIGN_OR_RETURN(neg.filter, compile_expr(*op->filter, sc));
        }
        s.inputs.push_back(neg.type);
        spec.negations.push_back(std::move(neg));
    }
    s.ops.push_back(std::make_unique<SequenceOp>(std::move(spec)));
    return Status::ok();
}

Status StreamCompiler::compile_pattern(const vpl::PatternDecl& pattern, Stream& s) {
    VP_ASSIGN_OR_RETURN(auto alternatives, pattern_alternatives(pattern.expr));
    std::vector<OperatorPtr> matchers;
    for (const auto& raw : alternatives) {
        std::vector<std::string> aliases;
        for (const auto& r : raw) {
            if (!r.alias.empty() && std::find(aliases.begin(), aliases.end(), r.alias) == aliases.end()) aliases.push_back(r.alias);
        }
        SequenceSpec spec;
        spec.aliases = aliases;
        spec.within_ns = duration_of(pattern.within.get()).value_or(0);
        spec.max_runs = engine_.options_.max_runs_per_partition;
        if (!pattern.partition_by.empty()) spec.partition = field_key(pattern.partition_by);
        for (const auto& r : raw) {
            ExprScope sc = scope(r.alias);
            sc.captures = aliases;
            ExprNode filter;
            if (r.filter) {
                VP_ASSIGN_OR_RETURN(filter, compile_expr(*r.filter, sc));
            }
            Symbol type = intern(r.type);
            s.inputs.push_back(type);
            if (r.negated) {
                spec.negations.push_back({type, std::move(filter), spec.steps.size()});
                continue;
            }
            SequenceStep step;
            step.type = type;
            step.kleene = r.kleene;
            step.filter = std::move(filter);
            if (!r.alias.empty()) step.alias = static_cast<int>(std::find(aliases.begin(), aliases.end(), r.alias) - aliases.begin());
            spec.steps.push_back(std::move(step));
        }
        if (spec.steps.empty()) return Status(ErrorCode::Invalid, "pattern '" + pattern.name + "' has no positive step");
        matchers.push_back(std::make_unique<SequenceOp>(std::move(spec)));
    }
    if (matchers.size() == 1) {
        s.ops.push_back(std::move(matchers[0]));
    } else {
        s.ops.push_back(std::make_unique<AnyOfOp>(std::move(matchers)));
    }
    return Status::ok();
}

Status StreamCompiler::compile_join(const vpl::StreamDecl& decl, Stream& s) {
    std::map<std::string, const vpl::Expr*> keys;  // source name → key expression `Source.field`
    int64_t window = 60'000'000'000;
    for (const auto& op : decl.ops) {
        if (op.kind == OpKind::Window) {
            auto d = duration_of(positional(op));
            if (!d) return invalid(op, "a join .window() needs a duration");
            window = *d;
        }
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
    std::vector<JoinSource> sources;
    for (const auto& in : decl.source.inputs) {
        JoinSource src;
        src.name = intern(in.source);
        src.label = in.name;
        const vpl::Expr* key = keys.count(in.name) ? keys[in.name] : keys.count(in.source) ? keys[in.source] : nullptr;
        if (key) {
            // `Source.field` read on the source's own event: the field.
            src.key = field_key(key->name);
        }
        for (const auto& op : in.ops) {
            if (op.kind == OpKind::Where && positional(op)) {
                VP_ASSIGN_OR_RETURN(src.filter, compile_expr(*positional(op), scope()));
            }
        }
        s.inputs.push_back(src.name);
        sources.push_back(std::move(src));
    }
    s.ops.push_back(std::make_unique<JoinOp>(std::move(sources), window));
    return Status::ok();
}

}  // namespace varpulis::engine

namespace varpulis::engine {

Result<OperatorPtr> StreamCompiler::compile_op(const vpl::StreamOp& op, Stream& s, const ExprScope& sc,
                                               const std::string& partition) {
    auto copy_key = [&](const std::string& field) { return field.empty() ? ExprNode() : field_key(field); };
    auto field_items = [&](bool emit) -> Result<std::vector<FieldItem>> {
        std::vector<FieldItem> items;
        for (const auto& a : op.args) {
            if (!a.value) continue;
            if (emit && a.name == "context") continue;  // a routing hint, not a field
            std::string name = a.name.empty() && a.value->kind == ExprKind::Ident ? a.value->name : a.name;
            if (name.empty()) return invalid(op, "arguments are name: value pairs");
            VP_ASSIGN_OR_RETURN(auto value, compile_expr(*a.value, sc));
            items.push_back({intern(name), std::move(value)});
        }
        return items;
    };
    switch (op.kind) {
        case OpKind::Where:
        case OpKind::Filter:
        case OpKind::Having: {
            if (!positional(op)) return invalid(op, "a condition is required");
            VP_ASSIGN_OR_RETURN(auto cond, compile_expr(*positional(op), sc));
            return OperatorPtr(std::make_unique<WhereOp>(std::move(cond)));
        }
        case OpKind::Select: {
            VP_ASSIGN_OR_RETURN(auto items, field_items(false));
            return OperatorPtr(std::make_unique<SelectOp>(std::move(items)));
        }
        case OpKind::Emit: {
            VP_ASSIGN_OR_RETURN(auto items, field_items(true));
            s.external = true;
            return OperatorPtr(std::make_unique<EmitOp>(std::move(items)));
        }
        case OpKind::Process: {
            if (!positional(op)) return invalid(op, ".process() takes a function call");
            VP_ASSIGN_OR_RETURN(auto call, compile_expr(*positional(op), sc));
            s.external = true;
            return OperatorPtr(std::make_unique<ProcessOp>(std::move(call)));
        }
        case OpKind::Print: {
            std::vector<ExprNode> items;
            for (const auto& a : op.args) {
                VP_ASSIGN_OR_RETURN(auto item, compile_expr(*a.value, sc));
                items.push_back(std::move(item));
            }
            engine_.writes_console_ = true;
            return OperatorPtr(std::make_unique<PrintOp>(std::move(items)));
        }
        case OpKind::Log: {
            const vpl::Expr* level = named(op, "level");
            const vpl::Expr* message = named(op, "message");
            ExprNode data;
            if (const vpl::Expr* d = named(op, "data")) {
                VP_ASSIGN_OR_RETURN(data, compile_expr(*d, sc));
            }
            engine_.writes_console_ = true;
            return OperatorPtr(std::make_unique<LogOp>(level ? level->value.to_display() : "info",
                                                       message ? message->value.to_display() : "", std::move(data)));
        }
        case OpKind::Distinct: {
            ExprNode key;
            if (positional(op)) {
                VP_ASSIGN_OR_RETURN(key, compile_expr(*positional(op), sc));
            }
            return OperatorPtr(std::make_unique<DistinctOp>(std::move(key), engine_.options_.distinct_capacity));
        }
        case OpKind::Limit: {
            const vpl::Expr* n = positional(op);
            if (!n || !n->value.is_int()) return invalid(op, ".limit() takes an integer");
            return OperatorPtr(std::make_unique<LimitOp>(n->value.as_int()));
        }
        case OpKind::First: return OperatorPtr(std::make_unique<LimitOp>(1));
        case OpKind::To: {
            const vpl::Expr* target = positional(op);
            if (!target || target->kind != ExprKind::Ident) return invalid(op, ".to() takes a connector name");
            auto it = engine_.connectors_.find(target->name);
            if (it == engine_.connectors_.end()) return invalid(op, "connector '" + target->name + "' is not declared");
            auto& sink = engine_.sinks_[target->name];
            if (!sink) {
                VP_ASSIGN_OR_RETURN(sink, make_sink(it->second));
            }
            const vpl::Expr* topic = named(op, "topic");
            std::string topic_text = topic ? topic->value.to_display() : it->second.param_string("topic");
            return OperatorPtr(std::make_unique<ToOp>(sink, topic_text));
        }
        case OpKind::Window: {
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
            return OperatorPtr(std::make_unique<WindowOp>(spec, copy_key(partition)));
        }
        case OpKind::Aggregate: {
            std::vector<AggregateOp::Item> items;
            for (const auto& a : op.args) {
                if (a.name.empty() || !a.value) return invalid(op, ".aggregate() takes alias: function(...) pairs");
                VP_ASSIGN_OR_RETURN(auto agg, compile_aggregate(*a.value, sc));
                items.push_back({intern(a.name), std::move(agg)});
            }
            return OperatorPtr(std::make_unique<AggregateOp>(std::move(items), copy_key(partition)));
        }
        default:
            return invalid(op, std::string(".") + vpl::op_kind_name(op.kind) + "() is not implemented");
    }
}

}  // namespace varpulis::engine
