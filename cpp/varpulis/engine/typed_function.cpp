// SPDX-License-Identifier: Apache-2.0
// Compiles VPL functions whose parameters, locals and results are int, float or bool into the
// unboxed nodes of typed_nodes.hpp; anything outside that subset stays with the interpreter.
#include "varpulis/engine/typed_function.hpp"

#include <cmath>

#include "varpulis/engine/typed_nodes.hpp"

namespace varpulis::engine {

using vpl::BinaryOp;
using vpl::ExprKind;

namespace {

using namespace typed;  // the nodes this file compiles into

std::optional<TType> type_named(const std::optional<vpl::TypeExpr>& t) {
    if (!t || t->kind != vpl::TypeExpr::Kind::Named || t->optional) return std::nullopt;
    if (t->name == "int") return TType::Int;
    if (t->name == "float") return TType::Float;
    if (t->name == "bool") return TType::Bool;
    return std::nullopt;
}

/// Compiles one function body, or fails (returns nothing) on anything outside the typed subset.
class Compiler {
  public:
    Compiler(const TypedProgram& program, const std::vector<bool>& callable) : program_(program), callable_(callable) {}

    std::unique_ptr<TypedFunction> compile(const vpl::FnDecl& fn, const TypedSignature& sig) {
        auto out = std::make_unique<TypedFunction>();
        out->name = fn.name;
        out->signature = sig;
        result_ = sig.result;
        for (size_t k = 0; k < fn.params.size(); ++k) define(fn.params[k].name, sig.params[k]);
        auto body = block(fn.body);
        if (!body) return nullptr;
        // A function with a result must end in a return on every path we cannot see through:
        // require the last statement to be a return.
        if (sig.result != TType::Void &&
            (fn.body.empty() || !std::holds_alternative<vpl::ReturnStmt>(fn.body.back()->node))) {
            return nullptr;
        }
        out->body = std::move(*body);
        out->slot_count = next_slot_;
        return out;
    }

  private:
    std::optional<int> define(const std::string& name, TType type) {
        auto it = locals_.find(name);
        if (it != locals_.end()) return it->second.second == type ? std::optional<int>(it->second.first) : std::nullopt;
        locals_[name] = {next_slot_, type};
        return next_slot_++;
    }

    static std::optional<TExpr> fail() { return std::nullopt; }

    std::optional<TExpr> expr(const vpl::Expr& e) {
        switch (e.kind) {
            case ExprKind::Literal: return literal(e.value);
            case ExprKind::Ident: {
                if (auto it = locals_.find(e.name); it != locals_.end()) {
                    TExpr t;
                    t.type = it->second.second;
                    t.slot = it->second.first;
                    return t;
                }
                if (auto it = program_.constants().find(e.name); it != program_.constants().end()) return literal(it->second);
                return fail();
            }
            case ExprKind::Unary: return unary(e);
            case ExprKind::Binary: return binary_expr(e);
            case ExprKind::Call: return call(e);
            case ExprKind::If: {
                auto c = expr(*e.children[0]);
                auto a = expr(*e.children[1]);
                auto b = expr(*e.children[2]);
                if (!c || !a || !b || c->type != TType::Bool || a->type != b->type) return fail();
                return select(std::move(*c), std::move(*a), std::move(*b));
            }
            default: return fail();
        }
    }

    static std::optional<TExpr> literal(const Value& v) {
        TExpr t;
        t.is_const = true;
        if (v.is_int()) {
            t.type = TType::Int;
            t.konst.i = v.as_int();
        } else if (v.is_float()) {
            t.type = TType::Float;
            t.konst.f = v.as_float();
        } else if (v.is_bool()) {
            t.type = TType::Bool;
            t.konst.b = v.as_bool();
        } else {
            return fail();
        }
        return t;
    }

    template <typename T>
    struct SelectNode final : Node<T> {
        NodePtr<bool> c;
        NodePtr<T> a, b;
        T eval(TFrame& f) const override { return c->eval(f) ? a->eval(f) : b->eval(f); }
    };

    static std::optional<TExpr> select(TExpr c, TExpr a, TExpr b) {
        auto build = [&](auto tag) -> TExpr {
            using T = decltype(tag);
            auto n = std::make_unique<SelectNode<T>>();
            n->c = as_node<bool>(c);
            n->a = as_node<T>(a);
            n->b = as_node<T>(b);
            return from_node<T>(std::move(n));
        };
        switch (a.type) {
            case TType::Float: return build(double{});
            case TType::Int: return build(int64_t{});
            case TType::Bool: return build(bool{});
            default: return fail();
        }
    }

    struct NegF final : Node<double> {
        NodePtr<double> a;
        double eval(TFrame& f) const override { return -a->eval(f); }
    };
    struct NegI final : Node<int64_t> {
        NodePtr<int64_t> a;
        int64_t eval(TFrame& f) const override {
            int64_t v = a->eval(f);
            if (v == INT64_MIN) overflow();
            return -v;
        }
    };
    struct NotB final : Node<bool> {
        NodePtr<bool> a;
        bool eval(TFrame& f) const override { return !a->eval(f); }
    };

    std::optional<TExpr> unary(const vpl::Expr& e) {
        auto x = expr(*e.children[0]);
        if (!x) return fail();
        switch (e.unary_op) {
            case vpl::UnaryOp::Plus: return x->type == TType::Bool ? fail() : std::move(x);
            case vpl::UnaryOp::Neg:
                if (x->type == TType::Float) {
                    auto n = std::make_unique<NegF>();
                    n->a = as_node<double>(*x);
                    return from_node<double>(std::move(n));
                }
                if (x->type == TType::Int) {
                    auto n = std::make_unique<NegI>();
                    n->a = as_node<int64_t>(*x);
                    return from_node<int64_t>(std::move(n));
                }
                return fail();
            case vpl::UnaryOp::Not: {
                if (x->type != TType::Bool) return fail();
                auto n = std::make_unique<NotB>();
                n->a = as_node<bool>(*x);
                return from_node<bool>(std::move(n));
            }
            default: return fail();
        }
    }

    struct AndNode final : Node<bool> {
        NodePtr<bool> a, b;
        bool eval(TFrame& f) const override { return a->eval(f) && b->eval(f); }
    };
    struct OrNode final : Node<bool> {
        NodePtr<bool> a, b;
        bool eval(TFrame& f) const override { return a->eval(f) || b->eval(f); }
    };

    static bool numeric(TType t) { return t == TType::Int || t == TType::Float; }

    template <typename Op>
    static TExpr arith(TExpr a, TExpr b) {
        if (a.type == TType::Int && b.type == TType::Int) return binary<int64_t, int64_t, Op>(std::move(a), std::move(b));
        if (a.type == TType::Int) a = int_to_float(std::move(a));
        if (b.type == TType::Int) b = int_to_float(std::move(b));
        return binary<double, double, Op>(std::move(a), std::move(b));
    }

    template <typename Op>
    static std::optional<TExpr> compare(TExpr a, TExpr b) {
        if (a.type == TType::Bool || b.type == TType::Bool) {
            if (a.type != b.type) return fail();
            if constexpr (std::is_same_v<Op, EqOp> || std::is_same_v<Op, NeOp>) {
                return binary<bool, bool, Op>(std::move(a), std::move(b));
            }
            return fail();
        }
        if (a.type == TType::Int && b.type == TType::Int) return binary<bool, int64_t, Op>(std::move(a), std::move(b));
        if (a.type == TType::Int) a = int_to_float(std::move(a));
        if (b.type == TType::Int) b = int_to_float(std::move(b));
        return binary<bool, double, Op>(std::move(a), std::move(b));
    }

    std::optional<TExpr> binary_expr(const vpl::Expr& e) {
        auto a = expr(*e.children[0]);
        auto b = expr(*e.children[1]);
        if (!a || !b) return fail();
        switch (e.binary_op) {
            case BinaryOp::And:
            case BinaryOp::Or: {
                if (a->type != TType::Bool || b->type != TType::Bool) return fail();
                if (e.binary_op == BinaryOp::And) {
                    auto n = std::make_unique<AndNode>();
                    n->a = as_node<bool>(*a);
                    n->b = as_node<bool>(*b);
                    return from_node<bool>(std::move(n));
                }
                auto n = std::make_unique<OrNode>();
                n->a = as_node<bool>(*a);
                n->b = as_node<bool>(*b);
                return from_node<bool>(std::move(n));
            }
            case BinaryOp::Eq: return compare<EqOp>(std::move(*a), std::move(*b));
            case BinaryOp::Ne: return compare<NeOp>(std::move(*a), std::move(*b));
            case BinaryOp::Lt: return compare<LtOp>(std::move(*a), std::move(*b));
            case BinaryOp::Le: return compare<LeOp>(std::move(*a), std::move(*b));
            case BinaryOp::Gt: return compare<GtOp>(std::move(*a), std::move(*b));
            case BinaryOp::Ge: return compare<GeOp>(std::move(*a), std::move(*b));
            default: break;
        }
        if (!numeric(a->type) || !numeric(b->type)) return fail();
        switch (e.binary_op) {
            case BinaryOp::Add: return arith<AddOp>(std::move(*a), std::move(*b));
            case BinaryOp::Sub: return arith<SubOp>(std::move(*a), std::move(*b));
            case BinaryOp::Mul: return arith<MulOp>(std::move(*a), std::move(*b));
            case BinaryOp::Div:
            case BinaryOp::Mod: {
                // The generic path gives null for a zero divisor; only a non-zero constant keeps
                // the meaning without a null.
                bool zero = !b->is_const || (b->type == TType::Int ? b->konst.i == 0 : b->konst.f == 0.0);
                if (zero) return fail();
                if (e.binary_op == BinaryOp::Div) return arith<DivOp>(std::move(*a), std::move(*b));
                return arith<ModOp>(std::move(*a), std::move(*b));
            }
            default: return fail();
        }
    }

    template <typename T, T (*F)(T)>
    struct Math1 final : Node<T> {
        NodePtr<T> a;
        T eval(TFrame& f) const override { return F(a->eval(f)); }
    };
    static double f_sqrt(double x) { return std::sqrt(x); }
    static double f_fabs(double x) { return std::fabs(x); }
    static int64_t i_abs(int64_t x) {
        if (x == INT64_MIN) overflow();
        return x < 0 ? -x : x;
    }

    std::optional<TExpr> call(const vpl::Expr& e) {
        const std::string& name = e.callee_name();
        if (name.empty()) return fail();
        std::vector<TExpr> args;
        for (size_t k = 1; k < e.children.size(); ++k) {
            auto a = expr(*e.children[k]);
            if (!a) return fail();
            args.push_back(std::move(*a));
        }
        if (auto it = program_.index().find(name); it != program_.index().end()) return user_call(it->second, std::move(args));
        if (args.size() == 1 && (name == "sqrt" || name == "to_float") && numeric(args[0].type)) {
            TExpr x = args[0].type == TType::Int ? int_to_float(std::move(args[0])) : std::move(args[0]);
            if (name == "to_float") return x;
            auto n = std::make_unique<Math1<double, f_sqrt>>();
            n->a = as_node<double>(x);
            return from_node<double>(std::move(n));
        }
        if (args.size() == 1 && name == "abs" && args[0].type == TType::Float) {
            auto n = std::make_unique<Math1<double, f_fabs>>();
            n->a = as_node<double>(args[0]);
            return from_node<double>(std::move(n));
        }
        if (args.size() == 1 && name == "abs" && args[0].type == TType::Int) {
            auto n = std::make_unique<Math1<int64_t, i_abs>>();
            n->a = as_node<int64_t>(args[0]);
            return from_node<int64_t>(std::move(n));
        }
        return fail();
    }

    std::optional<TExpr> user_call(size_t index, std::vector<TExpr> args) {
        const auto& sig = program_.signature(index);
        if (!sig || !callable_[index] || sig->params.size() != args.size()) return fail();
        std::vector<Boxer> converted;
        for (size_t k = 0; k < args.size(); ++k) {
            TType want = sig->params[k];
            if (args[k].type == TType::Int && want == TType::Float) args[k] = int_to_float(std::move(args[k]));
            if (args[k].type != want) return fail();
            converted.push_back(boxer(std::move(args[k])));
        }
        auto build = [&](auto tag) -> TExpr {
            using R = decltype(tag);
            auto n = std::make_unique<CallNode<R>>();
            n->index = index;
            n->args = std::move(converted);
            TExpr t = from_node<R>(std::move(n));
            t.type = sig->result;  // Void calls ride on a bool node
            return t;
        };
        switch (sig->result) {
            case TType::Float: return build(double{});
            case TType::Int: return build(int64_t{});
            case TType::Bool:
            case TType::Void: return build(bool{});
        }
        return fail();
    }

    static Boxer boxer(TExpr e) {
        Boxer b;
        b.type = e.type;
        switch (e.type) {
            case TType::Float: b.f = as_node<double>(e); break;
            case TType::Int: b.i = as_node<int64_t>(e); break;
            case TType::Bool:
            case TType::Void: b.b = as_node<bool>(e); break;
        }
        return b;
    }

    // -------------------------------------------------------------------------------------
    std::optional<TBlock> block(const vpl::Block& stmts) {
        TBlock out;
        for (const auto& s : stmts) {
            auto st = statement(*s);
            if (!st) return std::nullopt;
            out.push_back(std::move(*st));
        }
        return out;
    }

    using StmtResult = std::optional<std::unique_ptr<TStmt>>;

    static std::unique_ptr<TStmt> fuse_assign(TExpr& v, int slot) {
        switch (v.type) {
            case TType::Float: return v.f ? v.f->into_assign(slot) : nullptr;
            case TType::Int: return v.i ? v.i->into_assign(slot) : nullptr;
            case TType::Bool: return v.b ? v.b->into_assign(slot) : nullptr;
            default: return nullptr;
        }
    }

    StmtResult assign(const std::string& name, const vpl::Expr& value) {
        auto v = expr(value);
        if (!v || v->type == TType::Void) return std::nullopt;
        auto existing = locals_.find(name);
        if (existing != locals_.end() && existing->second.second == TType::Float && v->type == TType::Int) {
            v = int_to_float(std::move(*v));
        }
        auto slot = define(name, v->type);
        if (!slot) return std::nullopt;
        if (std::unique_ptr<TStmt> fused = fuse_assign(*v, *slot)) return fused;
        switch (v->type) {
            case TType::Float: return std::make_unique<AssignStmt<double>>(*slot, as_node<double>(*v));
            case TType::Int: return std::make_unique<AssignStmt<int64_t>>(*slot, as_node<int64_t>(*v));
            case TType::Bool: return std::make_unique<AssignStmt<bool>>(*slot, as_node<bool>(*v));
            default: return std::nullopt;
        }
    }

    StmtResult statement(const vpl::Stmt& stmt) {
        return std::visit(
            [&](const auto& n) -> StmtResult {
                using T = std::decay_t<decltype(n)>;
                if constexpr (std::is_same_v<T, vpl::VarDecl> || std::is_same_v<T, vpl::AssignStmt>) {
                    return assign(n.name, *n.value);
                } else if constexpr (std::is_same_v<T, vpl::IfStmt>) {
                    auto node = std::make_unique<IfStmt>();
                    for (const auto& b : n.branches) {
                        auto c = expr(*b.condition);
                        if (!c || c->type != TType::Bool) return std::nullopt;
                        auto body = block(b.body);
                        if (!body) return std::nullopt;
                        node->branches.emplace_back(as_node<bool>(*c), std::move(*body));
                    }
                    auto otherwise = block(n.else_body);
                    if (!otherwise) return std::nullopt;
                    if (node->branches.size() == 1 && otherwise->empty()) {
                        auto& [cond, body] = node->branches[0];
                        if (auto fused = cond->into_if(body)) return fused;
                        auto only = std::make_unique<IfOnlyStmt>();
                        only->cond = std::move(cond);
                        only->body = std::move(body);
                        return only;
                    }
                    node->otherwise = std::move(*otherwise);
                    return node;
                } else if constexpr (std::is_same_v<T, vpl::WhileStmt>) {
                    auto c = expr(*n.condition);
                    if (!c || c->type != TType::Bool) return std::nullopt;
                    auto body = block(n.body);
                    if (!body) return std::nullopt;
                    if (c->b) {
                        if (auto fused = c->b->into_while(*body)) return fused;
                    }
                    auto node = std::make_unique<WhileStmt>();
                    node->cond = as_node<bool>(*c);
                    node->body = std::move(*body);
                    return node;
                } else if constexpr (std::is_same_v<T, vpl::ForStmt>) {
                    const vpl::Expr& it = *n.iterable;
                    if (it.kind != ExprKind::Binary ||
                        (it.binary_op != BinaryOp::Range && it.binary_op != BinaryOp::RangeInclusive)) {
                        return std::nullopt;
                    }
                    auto lo = expr(*it.children[0]);
                    auto hi = expr(*it.children[1]);
                    if (!lo || !hi || lo->type != TType::Int || hi->type != TType::Int) return std::nullopt;
                    auto slot = define(n.var, TType::Int);
                    if (!slot) return std::nullopt;
                    auto node = std::make_unique<ForRangeStmt>();
                    node->slot = *slot;
                    node->lo = as_node<int64_t>(*lo);
                    node->hi = as_node<int64_t>(*hi);
                    node->inclusive = it.binary_op == BinaryOp::RangeInclusive;
                    auto body = block(n.body);
                    if (!body) return std::nullopt;
                    node->body = std::move(*body);
                    return node;
                } else if constexpr (std::is_same_v<T, vpl::ReturnStmt>) {
                    if (!n.value) {
                        if (result_ != TType::Void) return std::nullopt;
                        return std::make_unique<JumpStmt>(TFlow::Return);
                    }
                    auto v = expr(*n.value);
                    if (!v) return std::nullopt;
                    if (v->type == TType::Int && result_ == TType::Float) v = int_to_float(std::move(*v));
                    if (v->type != result_) return std::nullopt;
                    switch (v->type) {
                        case TType::Float: return std::make_unique<ReturnStmt<double>>(as_node<double>(*v));
                        case TType::Int: return std::make_unique<ReturnStmt<int64_t>>(as_node<int64_t>(*v));
                        case TType::Bool: return std::make_unique<ReturnStmt<bool>>(as_node<bool>(*v));
                        default: return std::nullopt;
                    }
                } else if constexpr (std::is_same_v<T, vpl::BreakStmt>) {
                    return std::make_unique<JumpStmt>(TFlow::Break);
                } else if constexpr (std::is_same_v<T, vpl::ContinueStmt>) {
                    return std::make_unique<JumpStmt>(TFlow::Continue);
                } else if constexpr (std::is_same_v<T, vpl::EmitStmt>) {
                    auto node = std::make_unique<EmitStmt>();
                    node->type = intern(n.event_type);
                    for (const auto& f : n.fields) {
                        auto v = expr(*f.value);
                        if (!v || v->type == TType::Void) return std::nullopt;
                        node->names.push_back(intern(f.name));
                        node->values.push_back(boxer(std::move(*v)));
                    }
                    return node;
                } else if constexpr (std::is_same_v<T, vpl::ExprStmt>) {
                    auto v = expr(*n.expr);
                    if (!v) return std::nullopt;
                    auto node = std::make_unique<ExprStmt>();
                    node->value = boxer(std::move(*v));
                    return node;
                } else {
                    return std::nullopt;
                }
            },
            stmt.node);
    }

    const TypedProgram& program_;
    const std::vector<bool>& callable_;
    std::unordered_map<std::string, std::pair<int, TType>> locals_;
    int next_slot_ = 0;
    TType result_ = TType::Void;
};

std::optional<TypedSignature> signature_of(const vpl::FnDecl& fn) {
    TypedSignature sig;
    for (const auto& p : fn.params) {
        auto t = type_named(p.type);
        if (!t) return std::nullopt;
        sig.params.push_back(*t);
    }
    if (fn.return_type) {
        auto t = type_named(fn.return_type);
        if (!t) return std::nullopt;
        sig.result = *t;
    }
    return sig;
}

}  // namespace

TypedProgram::TypedProgram() = default;
TypedProgram::~TypedProgram() = default;

void TypedProgram::compile(const std::vector<const vpl::FnDecl*>& fns, const std::unordered_map<std::string, size_t>& index,
                           std::unordered_map<std::string, Value> constants, const FunctionLimits& limits) {
    index_ = &index;
    constants_ = std::move(constants);
    limits_ = limits;
    signatures_.clear();
    for (const auto* fn : fns) signatures_.push_back(signature_of(*fn));
    // A function is typed only if every typed function it calls is too: compile until nothing
    // more fails.
    std::vector<bool> callable(fns.size());
    for (size_t k = 0; k < fns.size(); ++k) callable[k] = signatures_[k].has_value();
    for (bool changed = true; changed;) {
        changed = false;
        functions_.clear();
        functions_.resize(fns.size());
        for (size_t k = 0; k < fns.size(); ++k) {
            if (!callable[k]) continue;
            Compiler compiler(*this, callable);
            functions_[k] = compiler.compile(*fns[k], *signatures_[k]);
            if (!functions_[k]) {
                callable[k] = false;
                changed = true;
            }
        }
    }
}

std::optional<Value> TypedProgram::call(size_t index, const Value* args, size_t count, const EvalContext& caller) const {
    const TypedFunction& fn = *functions_[index];
    if (count != fn.signature.params.size()) return std::nullopt;
    std::vector<Slot> slots(static_cast<size_t>(std::max(fn.slot_count, 1)));
    for (size_t k = 0; k < count; ++k) {
        const Value& v = args[k];
        switch (fn.signature.params[k]) {
            case TType::Int:
                if (!v.is_int()) return std::nullopt;
                slots[k].i = v.as_int();
                break;
            case TType::Float:
                if (!v.is_number()) return std::nullopt;
                slots[k].f = v.as_number();
                break;
            case TType::Bool:
                if (!v.is_bool()) return std::nullopt;
                slots[k].b = v.as_bool();
                break;
            case TType::Void: return std::nullopt;
        }
    }
    Slot r = run_typed(fn, slots.data(), &caller, this);
    switch (fn.signature.result) {
        case TType::Int: return Value(r.i);
        case TType::Float: return Value(r.f);
        case TType::Bool: return Value(r.b);
        case TType::Void: return Value();
    }
    return Value();
}

}  // namespace varpulis::engine
