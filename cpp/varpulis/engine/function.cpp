// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/function.hpp"

#include "varpulis/engine/typed_function.hpp"
#include "varpulis/engine/value_ops.hpp"

namespace varpulis::engine {

using common::ErrorCode;
using common::Result;
using common::Status;

enum class Flow { Next, Break, Continue, Return };

struct ExecState {
    EvalContext ctx;
    Value result;       ///< `return` value, else the last expression statement's value
    const FunctionLimits* limits;
};

class CompiledStmt {
  public:
    virtual ~CompiledStmt() = default;
    virtual Flow exec(ExecState& s) const = 0;
};

using StmtNode = std::unique_ptr<CompiledStmt>;
using StmtList = std::vector<StmtNode>;

namespace {

thread_local int g_call_depth = 0;

Flow run_block(const StmtList& block, ExecState& s) {
    for (const auto& stmt : block) {
        Flow f = stmt->exec(s);
        if (f != Flow::Next) return f;
    }
    return Flow::Next;
}

class AssignStmt final : public CompiledStmt {
  public:
    AssignStmt(size_t slot, ExprNode value) : slot_(slot), value_(std::move(value)) {}
    Flow exec(ExecState& s) const override {
        Value scratch;
        const Value& v = value_->eval(s.ctx, scratch);
        s.ctx.locals[slot_] = &v == &scratch ? std::move(scratch) : v;
        return Flow::Next;
    }

  private:
    size_t slot_;
    ExprNode value_;
};

/// `x := push(x, item)` on a local array: appends in place instead of copying the array (which
/// made building an array in a loop quadratic). Anything else falls back to the plain assignment.
class AppendStmt final : public CompiledStmt {
  public:
    AppendStmt(size_t slot, ExprNode item, StmtNode fallback) : slot_(slot), item_(std::move(item)), fallback_(std::move(fallback)) {}
    Flow exec(ExecState& s) const override {
        if (s.ctx.locals[slot_].kind() != Value::Kind::Array) return fallback_->exec(s);
        Value scratch;
        const Value& v = item_->eval(s.ctx, scratch);
        Value item = &v == &scratch ? std::move(scratch) : v;
        // The limits of push(): the length here, and the item's own size and depth (an array
        // pushed into itself deepens by one a turn, so this stops it within 64 turns).
        check_array_size(s.ctx.locals[slot_].as_array().size() + 1);
        if (item.kind() == Value::Kind::Array || item.kind() == Value::Kind::Map) check_value_size(item);
        s.ctx.locals[slot_].append(std::move(item));
        return Flow::Next;
    }

  private:
    size_t slot_;
    ExprNode item_;
    StmtNode fallback_;
};

class ExprStmt final : public CompiledStmt {
  public:
    explicit ExprStmt(ExprNode e) : e_(std::move(e)) {}
    Flow exec(ExecState& s) const override {
        s.result = e_->value(s.ctx);
        return Flow::Next;
    }

  private:
    ExprNode e_;
};

class IfStmt final : public CompiledStmt {
  public:
    std::vector<std::pair<ExprNode, StmtList>> branches;
    StmtList otherwise;
    Flow exec(ExecState& s) const override {
        for (const auto& [cond, body] : branches) {
            if (cond->test(s.ctx)) return run_block(body, s);
        }
        return run_block(otherwise, s);
    }
};

void check_guard(int64_t iterations, const ExecState& s) {
    if (iterations > s.limits->max_loop_iterations) {
        throw EvalError("loop ran more than " + std::to_string(s.limits->max_loop_iterations) +
                        " iterations (raise the loop limit if this is intended)");
    }
}

class WhileStmt final : public CompiledStmt {
  public:
    WhileStmt(ExprNode cond, StmtList body) : cond_(std::move(cond)), body_(std::move(body)) {}
    Flow exec(ExecState& s) const override {
        int64_t n = 0;
        while (cond_->test(s.ctx)) {
            check_guard(++n, s);
            Flow f = run_block(body_, s);
            if (f == Flow::Break) break;
            if (f == Flow::Return) return f;
        }
        return Flow::Next;
    }

  private:
    ExprNode cond_;
    StmtList body_;
};

/// `for v in a..b:` counts without building an array.
class ForRangeStmt final : public CompiledStmt {
  public:
    ForRangeStmt(size_t slot, ExprNode lo, ExprNode hi, bool inclusive, StmtList body)
        : slot_(slot), lo_(std::move(lo)), hi_(std::move(hi)), inclusive_(inclusive), body_(std::move(body)) {}
    Flow exec(ExecState& s) const override {
        Value lo = lo_->value(s.ctx), hi = hi_->value(s.ctx);
        if (!lo.is_int() || !hi.is_int()) return Flow::Next;
        int64_t end = hi.as_int() + (inclusive_ ? 1 : 0);
        int64_t n = 0;
        for (int64_t i = lo.as_int(); i < end; ++i) {
            check_guard(++n, s);
            s.ctx.locals[slot_] = Value(i);
            Flow f = run_block(body_, s);
            if (f == Flow::Break) break;
            if (f == Flow::Return) return f;
        }
        return Flow::Next;
    }

  private:
    size_t slot_;
    ExprNode lo_, hi_;
    bool inclusive_;
    StmtList body_;
};

/// `for v in e:` over an array (elements), a map ([key, value] pairs) or an int n (0..n-1).
class ForEachStmt final : public CompiledStmt {
  public:
    ForEachStmt(size_t slot, ExprNode iterable, StmtList body)
        : slot_(slot), iterable_(std::move(iterable)), body_(std::move(body)) {}
    Flow exec(ExecState& s) const override {
        Value it = iterable_->value(s.ctx);
        std::vector<Value> items;
        if (it.kind() == Value::Kind::Array) {
            items = it.as_array();
        } else if (it.kind() == Value::Kind::Map) {
            for (const auto& [k, v] : it.as_map()) items.emplace_back(common::Array{Value(k), v});
        } else if (it.is_int()) {
            check_guard(it.as_int(), s);
            for (int64_t i = 0; i < it.as_int(); ++i) items.emplace_back(i);
        }
        int64_t n = 0;
        for (auto& item : items) {
            check_guard(++n, s);
            s.ctx.locals[slot_] = std::move(item);
            Flow f = run_block(body_, s);
            if (f == Flow::Break) break;
            if (f == Flow::Return) return f;
        }
        return Flow::Next;
    }

  private:
    size_t slot_;
    ExprNode iterable_;
    StmtList body_;
};

class ReturnStmt final : public CompiledStmt {
  public:
    explicit ReturnStmt(ExprNode value) : value_(std::move(value)) {}
    Flow exec(ExecState& s) const override {
        s.result = value_ ? value_->value(s.ctx) : Value();
        return Flow::Return;
    }

  private:
    ExprNode value_;
};

class JumpStmt final : public CompiledStmt {
  public:
    explicit JumpStmt(Flow flow) : flow_(flow) {}
    Flow exec(ExecState&) const override { return flow_; }

  private:
    Flow flow_;
};

class EmitStmt final : public CompiledStmt {
  public:
    EmitStmt(Symbol type, std::vector<Symbol> names, std::vector<ExprNode> values)
        : type_(type), names_(std::move(names)), values_(std::move(values)) {}
    Flow exec(ExecState& s) const override {
        if (!s.ctx.emits) return Flow::Next;  // outside .process(...) emits go nowhere
        auto e = std::make_shared<Event>();
        e->type = type_;
        e->timestamp = s.ctx.emits->timestamp;
        e->fields.reserve(names_.size());
        for (size_t i = 0; i < names_.size(); ++i) {
            Value v = values_[i]->value(s.ctx);
            if (!v.is_null()) e->fields.emplace_back(names_[i], std::move(v));
        }
        s.ctx.emits->events.push_back(std::move(e));
        return Flow::Next;
    }

  private:
    Symbol type_;
    std::vector<Symbol> names_;
    std::vector<ExprNode> values_;
};

/// Compiles one function body: every local name gets a frame slot.
class BodyCompiler {
  public:
    BodyCompiler(const ExprScope& base, const vpl::FnDecl& fn) : scope_(base) {
        for (const auto& p : fn.params) slot_for(p.name);
        collect(fn.body);
        scope_.locals = &slots_;
    }

    size_t slot_count() const { return slots_.size(); }

    Result<StmtList> block(const vpl::Block& stmts) {
        StmtList out;
        for (const auto& s : stmts) {
            VP_ASSIGN_OR_RETURN(auto node, statement(*s));
            if (node) out.push_back(std::move(node));
        }
        return out;
    }

  private:
    size_t slot_for(const std::string& name) {
        auto [it, fresh] = slots_.emplace(name, slots_.size());
        return it->second;
    }

    /// Give every name bound anywhere in the body a slot up front, so a use before the binding
    /// statement still reads the local (as null) rather than a field.
    void collect(const vpl::Block& stmts) {
        for (const auto& s : stmts) {
            std::visit(
                [&](const auto& n) {
                    using T = std::decay_t<decltype(n)>;
                    if constexpr (std::is_same_v<T, vpl::VarDecl> || std::is_same_v<T, vpl::AssignStmt>) slot_for(n.name);
                    if constexpr (std::is_same_v<T, vpl::ForStmt>) {
                        slot_for(n.var);
                        collect(n.body);
                    }
                    if constexpr (std::is_same_v<T, vpl::WhileStmt>) collect(n.body);
                    if constexpr (std::is_same_v<T, vpl::IfStmt>) {
                        for (const auto& b : n.branches) collect(b.body);
                        collect(n.else_body);
                    }
                },
                s->node);
        }
    }

    Result<ExprNode> expr(const vpl::Expr& e) { return compile_expr(e, scope_); }

    /// Any other statement: a declaration, refused in a function body. Declared before
    /// statement(), whose generic lambda calls it: clang otherwise never instantiates it (an
    /// undefined reference at link time).
    template <typename T>
    Result<StmtNode> compile(const T&, const common::Span& at) {
        return Status(ErrorCode::Invalid, "declarations are not allowed inside functions", at);
    }

    Result<StmtNode> statement(const vpl::Stmt& stmt) {
        return std::visit([&](const auto& n) -> Result<StmtNode> { return compile(n, stmt.span); }, stmt.node);
    }

    Result<StmtNode> compile(const vpl::VarDecl& n, const common::Span&) {
        VP_ASSIGN_OR_RETURN(auto value, expr(*n.value));
        return StmtNode(std::make_unique<AssignStmt>(slots_.at(n.name), std::move(value)));
    }
    Result<StmtNode> compile(const vpl::AssignStmt& n, const common::Span&) {
        VP_ASSIGN_OR_RETURN(auto value, expr(*n.value));
        auto assign = StmtNode(std::make_unique<AssignStmt>(slots_.at(n.name), std::move(value)));
        if (const vpl::Expr* item = appended_item(n)) {
            VP_ASSIGN_OR_RETURN(auto item_node, expr(*item));
            return StmtNode(std::make_unique<AppendStmt>(slots_.at(n.name), std::move(item_node), std::move(assign)));
        }
        return assign;
    }

    /// The item of `x := push(x, item)` when `push` is the builtin (not a user function).
    const vpl::Expr* appended_item(const vpl::AssignStmt& n) const {
        const vpl::Expr& v = *n.value;
        using vpl::ExprKind;
        if (v.kind != ExprKind::Call || v.children.size() != 3 || v.children[0]->kind != ExprKind::Ident ||
            v.children[0]->name != "push" || v.children[1]->kind != ExprKind::Ident || v.children[1]->name != n.name ||
            std::any_of(v.names.begin(), v.names.end(), [](const std::string& name) { return !name.empty(); })) {
            return nullptr;
        }
        if (scope_.functions && scope_.functions->index_of("push")) return nullptr;
        return v.children[2].get();
    }
    Result<StmtNode> compile(const vpl::ExprStmt& n, const common::Span&) {
        VP_ASSIGN_OR_RETURN(auto value, expr(*n.expr));
        return StmtNode(std::make_unique<ExprStmt>(std::move(value)));
    }
    Result<StmtNode> compile(const vpl::IfStmt& n, const common::Span&) {
        auto node = std::make_unique<IfStmt>();
        for (const auto& b : n.branches) {
            VP_ASSIGN_OR_RETURN(auto cond, expr(*b.condition));
            VP_ASSIGN_OR_RETURN(auto body, block(b.body));
            node->branches.emplace_back(std::move(cond), std::move(body));
        }
        VP_ASSIGN_OR_RETURN(node->otherwise, block(n.else_body));
        return StmtNode(std::move(node));
    }
    Result<StmtNode> compile(const vpl::WhileStmt& n, const common::Span&) {
        VP_ASSIGN_OR_RETURN(auto cond, expr(*n.condition));
        VP_ASSIGN_OR_RETURN(auto body, block(n.body));
        return StmtNode(std::make_unique<WhileStmt>(std::move(cond), std::move(body)));
    }
    Result<StmtNode> compile(const vpl::ForStmt& n, const common::Span&) {
        size_t slot = slots_.at(n.var);
        VP_ASSIGN_OR_RETURN(auto body, block(n.body));
        const vpl::Expr& it = *n.iterable;
        if (it.kind == vpl::ExprKind::Binary &&
            (it.binary_op == vpl::BinaryOp::Range || it.binary_op == vpl::BinaryOp::RangeInclusive)) {
            VP_ASSIGN_OR_RETURN(auto lo, expr(*it.children[0]));
            VP_ASSIGN_OR_RETURN(auto hi, expr(*it.children[1]));
            return StmtNode(std::make_unique<ForRangeStmt>(slot, std::move(lo), std::move(hi),
                                                           it.binary_op == vpl::BinaryOp::RangeInclusive, std::move(body)));
        }
        VP_ASSIGN_OR_RETURN(auto iterable, expr(it));
        return StmtNode(std::make_unique<ForEachStmt>(slot, std::move(iterable), std::move(body)));
    }
    Result<StmtNode> compile(const vpl::ReturnStmt& n, const common::Span&) {
        ExprNode value;
        if (n.value) {
            VP_ASSIGN_OR_RETURN(value, expr(*n.value));
        }
        return StmtNode(std::make_unique<ReturnStmt>(std::move(value)));
    }
    Result<StmtNode> compile(const vpl::BreakStmt&, const common::Span&) {
        return StmtNode(std::make_unique<JumpStmt>(Flow::Break));
    }
    Result<StmtNode> compile(const vpl::ContinueStmt&, const common::Span&) {
        return StmtNode(std::make_unique<JumpStmt>(Flow::Continue));
    }
    Result<StmtNode> compile(const vpl::EmitStmt& n, const common::Span&) {
        std::vector<Symbol> names;
        std::vector<ExprNode> values;
        for (const auto& f : n.fields) {
            names.push_back(intern(f.name));
            VP_ASSIGN_OR_RETURN(auto v, expr(*f.value));
            values.push_back(std::move(v));
        }
        return StmtNode(std::make_unique<EmitStmt>(intern(n.event_type), std::move(names), std::move(values)));
    }

    ExprScope scope_;
    std::unordered_map<std::string, size_t> slots_;
};

}  // namespace

CompiledFunction::CompiledFunction() = default;
CompiledFunction::CompiledFunction(CompiledFunction&&) noexcept = default;
CompiledFunction::~CompiledFunction() = default;
FunctionTable::FunctionTable() = default;
FunctionTable::~FunctionTable() = default;

Status FunctionTable::compile(const std::vector<const vpl::FnDecl*>& fns,
                              const std::unordered_map<std::string, size_t>* globals, FunctionLimits limits) {
    limits_ = limits;
    functions_.clear();
    functions_.resize(fns.size());
    for (size_t i = 0; i < fns.size(); ++i) index_[fns[i]->name] = i;  // first, so bodies can call any function
    ExprScope base;
    base.globals = globals;
    base.functions = this;
    for (size_t i = 0; i < fns.size(); ++i) {
        BodyCompiler compiler(base, *fns[i]);
        VP_ASSIGN_OR_RETURN(functions_[i].body, compiler.block(fns[i]->body));
        functions_[i].name = fns[i]->name;
        functions_[i].param_count = fns[i]->params.size();
        functions_[i].slot_count = compiler.slot_count();
    }
    return Status::ok();
}

std::optional<size_t> FunctionTable::index_of(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) return std::nullopt;
    return it->second;
}

Value FunctionTable::run(const CompiledFunction& fn, Value* frame, const EvalContext& caller) const {
    if (g_call_depth >= limits_.max_call_depth) {
        throw EvalError("call depth exceeded " + std::to_string(limits_.max_call_depth) + " in '" + fn.name +
                        "' (runaway recursion?)");
    }
    ++g_call_depth;
    struct DepthGuard {
        ~DepthGuard() { --g_call_depth; }
    } guard;
    ExecState s{caller, Value(), &limits_};
    s.ctx.locals = frame;
    s.ctx.functions = this;
    run_block(fn.body, s);
    return std::move(s.result);
}

Value FunctionTable::call(size_t index, const std::vector<ExprNode>& args, const EvalContext& caller) const {
    constexpr size_t kInline = 8;
    Value inline_args[kInline];
    std::vector<Value> heap_args;
    Value* values = inline_args;
    if (args.size() > kInline) {
        heap_args.resize(args.size());
        values = heap_args.data();
    }
    // Arguments are evaluated once, whichever path then runs the body.
    for (size_t i = 0; i < args.size(); ++i) values[i] = args[i]->value(caller);
    if (typed_ && typed_->has(index)) {
        if (auto r = typed_->call(index, values, args.size(), caller)) return std::move(*r);
    }
    const CompiledFunction& fn = functions_[index];
    constexpr size_t kInlineFrame = 16;
    Value inline_frame[kInlineFrame];
    std::vector<Value> heap_frame;
    Value* frame = inline_frame;
    if (fn.slot_count > kInlineFrame) {
        heap_frame.resize(fn.slot_count);
        frame = heap_frame.data();
    }
    for (size_t i = 0; i < args.size() && i < fn.param_count; ++i) frame[i] = std::move(values[i]);
    return run(fn, frame, caller);
}

Value FunctionTable::call_values(size_t index, std::vector<Value> args, const EvalContext& caller) const {
    if (typed_ && typed_->has(index)) {
        if (auto r = typed_->call(index, args.data(), args.size(), caller)) return std::move(*r);
    }
    const CompiledFunction& fn = functions_[index];
    std::vector<Value> frame(std::max<size_t>(fn.slot_count, 1));
    for (size_t i = 0; i < args.size() && i < fn.param_count; ++i) frame[i] = std::move(args[i]);
    return run(fn, frame.data(), caller);
}

void FunctionTable::compile_typed(const std::vector<const vpl::FnDecl*>& fns, std::unordered_map<std::string, Value> constants) {
    typed_ = std::make_unique<TypedProgram>();
    typed_->compile(fns, index_, std::move(constants), limits_);
}

bool FunctionTable::is_typed(const std::string& name) const {
    auto index = index_of(name);
    return index && typed_ && typed_->has(*index);
}

}  // namespace varpulis::engine
