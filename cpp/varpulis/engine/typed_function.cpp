// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/typed_function.hpp"

#include <cmath>

namespace varpulis::engine {

using vpl::BinaryOp;
using vpl::ExprKind;

namespace {

union Slot {
    double f;
    int64_t i;
    bool b;
};

struct TFrame {
    Slot* slots;
    const EvalContext* ctx;
    const TypedProgram* program;
    Slot ret;
};

template <typename T> T slot_get(const Slot& s);
template <> double slot_get<double>(const Slot& s) { return s.f; }
template <> int64_t slot_get<int64_t>(const Slot& s) { return s.i; }
template <> bool slot_get<bool>(const Slot& s) { return s.b; }
inline void slot_put(Slot& s, double v) { s.f = v; }
inline void slot_put(Slot& s, int64_t v) { s.i = v; }
inline void slot_put(Slot& s, bool v) { s.b = v; }

struct TStmt;

template <typename T>
struct Node {
    virtual ~Node() = default;
    virtual T eval(TFrame& f) const = 0;
    /// Compile time only: turn `slot := <this>` into one fused statement, consuming this node,
    /// or return null when this node has no fused form.
    virtual std::unique_ptr<TStmt> into_assign(int /*slot*/) { return nullptr; }
    /// Compile time only: turn `while <this>: body` into one statement with the test inlined.
    virtual std::unique_ptr<TStmt> into_while(std::vector<std::unique_ptr<TStmt>>& /*body*/) { return nullptr; }
};
template <typename T>
using NodePtr = std::unique_ptr<Node<T>>;

template <typename T>
struct FromSlot {
    int k;
    T get(TFrame& f) const { return slot_get<T>(f.slots[k]); }
};
template <typename T>
struct FromConst {
    T v;
    T get(TFrame&) const { return v; }
};
template <typename T>
struct FromNode {
    NodePtr<T> n;
    T get(TFrame& f) const { return n->eval(f); }
};

template <typename T, typename A>
struct OperandNode final : Node<T> {
    explicit OperandNode(A a) : a(std::move(a)) {}
    A a;
    T eval(TFrame& f) const override { return a.get(f); }
};

template <typename R, typename T, typename Op, typename A, typename B>
struct BinNode final : Node<R> {
    BinNode(A a, B b) : a(std::move(a)), b(std::move(b)) {}
    A a;
    B b;
    R eval(TFrame& f) const override { return Op::apply(a.get(f), b.get(f)); }
    std::unique_ptr<TStmt> into_assign(int slot) override;
    std::unique_ptr<TStmt> into_while(std::vector<std::unique_ptr<TStmt>>& body) override;
};

template <typename To, typename From, typename A>
struct ConvertNode final : Node<To> {
    explicit ConvertNode(A a) : a(std::move(a)) {}
    A a;
    To eval(TFrame& f) const override { return static_cast<To>(a.get(f)); }
};

[[noreturn]] void overflow() { throw EvalError("integer overflow in a typed function"); }

struct AddOp {
    static double apply(double a, double b) { return a + b; }
    static int64_t apply(int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_add_overflow(a, b, &r)) overflow();
        return r;
    }
};
struct SubOp {
    static double apply(double a, double b) { return a - b; }
    static int64_t apply(int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_sub_overflow(a, b, &r)) overflow();
        return r;
    }
};
struct MulOp {
    static double apply(double a, double b) { return a * b; }
    static int64_t apply(int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_mul_overflow(a, b, &r)) overflow();
        return r;
    }
};
struct DivOp {  // only built with a non-zero constant divisor
    static double apply(double a, double b) { return a / b; }
    static int64_t apply(int64_t a, int64_t b) { return b == -1 && a == INT64_MIN ? (overflow(), 0) : a / b; }
};
struct ModOp {
    static double apply(double a, double b) { return std::fmod(a, b); }
    static int64_t apply(int64_t a, int64_t b) { return b == -1 ? 0 : a % b; }
};
struct LtOp { template <typename T> static bool apply(T a, T b) { return a < b; } };
struct LeOp { template <typename T> static bool apply(T a, T b) { return a <= b; } };
struct GtOp { template <typename T> static bool apply(T a, T b) { return a > b; } };
struct GeOp { template <typename T> static bool apply(T a, T b) { return a >= b; } };
struct EqOp { template <typename T> static bool apply(T a, T b) { return a == b; } };
struct NeOp { template <typename T> static bool apply(T a, T b) { return a != b; } };

/// A compiled typed expression: its type, and either a slot, a constant, or a node.
struct TExpr {
    TType type = TType::Void;
    int slot = -1;
    bool is_const = false;
    Slot konst{};
    NodePtr<double> f;
    NodePtr<int64_t> i;
    NodePtr<bool> b;
};

template <typename T> NodePtr<T>& node_of(TExpr& e);
template <> NodePtr<double>& node_of<double>(TExpr& e) { return e.f; }
template <> NodePtr<int64_t>& node_of<int64_t>(TExpr& e) { return e.i; }
template <> NodePtr<bool>& node_of<bool>(TExpr& e) { return e.b; }

template <typename T> TType type_of();
template <> TType type_of<double>() { return TType::Float; }
template <> TType type_of<int64_t>() { return TType::Int; }
template <> TType type_of<bool>() { return TType::Bool; }

/// Hand the operand form of `e` (slot, constant or node) to `k`.
template <typename T, typename K>
auto with_operand(TExpr& e, K&& k) {
    if (e.slot >= 0) return k(FromSlot<T>{e.slot});
    if (e.is_const) return k(FromConst<T>{slot_get<T>(e.konst)});
    return k(FromNode<T>{std::move(node_of<T>(e))});
}

template <typename T>
TExpr from_node(NodePtr<T> n) {
    TExpr e;
    e.type = type_of<T>();
    node_of<T>(e) = std::move(n);
    return e;
}

/// Turn any form into a node (for places that need one).
template <typename T>
NodePtr<T> as_node(TExpr& e) {
    if (!e.is_const && e.slot < 0) return std::move(node_of<T>(e));
    return with_operand<T>(e, [](auto a) -> NodePtr<T> { return std::make_unique<OperandNode<T, decltype(a)>>(std::move(a)); });
}

TExpr int_to_float(TExpr e) {
    if (e.is_const) {
        TExpr c;
        c.type = TType::Float;
        c.is_const = true;
        c.konst.f = static_cast<double>(e.konst.i);
        return c;
    }
    return with_operand<int64_t>(e, [](auto a) {
        return from_node<double>(std::make_unique<ConvertNode<double, int64_t, decltype(a)>>(std::move(a)));
    });
}

template <typename R, typename T, typename Op>
TExpr binary(TExpr a, TExpr b) {
    return with_operand<T>(a, [&](auto A) {
        return with_operand<T>(b, [&](auto B) {
            return from_node<R>(std::make_unique<BinNode<R, T, Op, decltype(A), decltype(B)>>(std::move(A), std::move(B)));
        });
    });
}

// ------------------------------------------------------------------------------------------
// Statements

enum class TFlow { Next, Break, Continue, Return };

struct TStmt {
    virtual ~TStmt() = default;
    virtual TFlow exec(TFrame& f) const = 0;
};
using TBlock = std::vector<std::unique_ptr<TStmt>>;

TFlow run_block(const TBlock& block, TFrame& f) {
    for (const auto& s : block) {
        TFlow flow = s->exec(f);
        if (flow != TFlow::Next) return flow;
    }
    return TFlow::Next;
}

void check_loop_guard(int64_t n, const TFrame& f) {
    if (n > f.program->limits().max_loop_iterations) {
        throw EvalError("loop ran more than " + std::to_string(f.program->limits().max_loop_iterations) +
                        " iterations (raise the loop limit if this is intended)");
    }
}

template <typename T>
struct AssignStmt final : TStmt {
    AssignStmt(int slot, NodePtr<T> v) : slot(slot), v(std::move(v)) {}
    int slot;
    NodePtr<T> v;
    TFlow exec(TFrame& f) const override {
        slot_put(f.slots[slot], v->eval(f));
        return TFlow::Next;
    }
};

struct IfStmt final : TStmt {
    std::vector<std::pair<NodePtr<bool>, TBlock>> branches;
    TBlock otherwise;
    TFlow exec(TFrame& f) const override {
        for (const auto& [cond, body] : branches) {
            if (cond->eval(f)) return run_block(body, f);
        }
        return run_block(otherwise, f);
    }
};

struct WhileStmt final : TStmt {
    NodePtr<bool> cond;
    TBlock body;
    TFlow exec(TFrame& f) const override {
        int64_t n = 0;
        while (cond->eval(f)) {
            if ((++n & 0xFFF) == 0) check_loop_guard(n, f);
            TFlow flow = run_block(body, f);
            if (flow == TFlow::Break) break;
            if (flow == TFlow::Return) return flow;
        }
        check_loop_guard(n, f);
        return TFlow::Next;
    }
};

struct ForRangeStmt final : TStmt {
    int slot = 0;
    NodePtr<int64_t> lo, hi;
    bool inclusive = false;
    TBlock body;
    TFlow exec(TFrame& f) const override {
        int64_t end = hi->eval(f) + (inclusive ? 1 : 0);
        int64_t start = lo->eval(f);
        if (end - start > 0) check_loop_guard(end - start, f);
        for (int64_t i = start; i < end; ++i) {
            f.slots[slot].i = i;
            TFlow flow = run_block(body, f);
            if (flow == TFlow::Break) break;
            if (flow == TFlow::Return) return flow;
        }
        return TFlow::Next;
    }
};

template <typename T>
struct ReturnStmt final : TStmt {
    explicit ReturnStmt(NodePtr<T> v) : v(std::move(v)) {}
    NodePtr<T> v;
    TFlow exec(TFrame& f) const override {
        slot_put(f.ret, v->eval(f));
        return TFlow::Return;
    }
};

struct JumpStmt final : TStmt {
    explicit JumpStmt(TFlow flow) : flow(flow) {}
    TFlow flow;
    TFlow exec(TFrame&) const override { return flow; }
};

/// `slot := a OP b` in one statement: the common shape of numeric loops.
template <typename R, typename T, typename Op, typename A, typename B>
struct AssignBinStmt final : TStmt {
    AssignBinStmt(int slot, A a, B b) : slot(slot), a(std::move(a)), b(std::move(b)) {}
    int slot;
    A a;
    B b;
    TFlow exec(TFrame& f) const override {
        slot_put(f.slots[slot], Op::apply(a.get(f), b.get(f)));
        return TFlow::Next;
    }
};

template <typename R, typename T, typename Op, typename A, typename B>
std::unique_ptr<TStmt> BinNode<R, T, Op, A, B>::into_assign(int slot) {
    return std::make_unique<AssignBinStmt<R, T, Op, A, B>>(slot, std::move(a), std::move(b));
}

/// `while a OP b: body` with the comparison inlined.
template <typename T, typename Op, typename A, typename B>
struct WhileBinStmt final : TStmt {
    WhileBinStmt(A a, B b, TBlock body) : a(std::move(a)), b(std::move(b)), body(std::move(body)) {}
    A a;
    B b;
    TBlock body;
    TFlow exec(TFrame& f) const override {
        int64_t n = 0;
        while (Op::apply(a.get(f), b.get(f))) {
            if ((++n & 0xFFF) == 0) check_loop_guard(n, f);
            TFlow flow = run_block(body, f);
            if (flow == TFlow::Break) break;
            if (flow == TFlow::Return) return flow;
        }
        check_loop_guard(n, f);
        return TFlow::Next;
    }
};

template <typename R, typename T, typename Op, typename A, typename B>
std::unique_ptr<TStmt> BinNode<R, T, Op, A, B>::into_while(TBlock& body) {
    if constexpr (std::is_same_v<R, bool>) {
        return std::make_unique<WhileBinStmt<T, Op, A, B>>(std::move(a), std::move(b), std::move(body));
    } else {
        return nullptr;
    }
}

/// `if c: body` with no elif/else.
struct IfOnlyStmt final : TStmt {
    NodePtr<bool> cond;
    TBlock body;
    TFlow exec(TFrame& f) const override { return cond->eval(f) ? run_block(body, f) : TFlow::Next; }
};

/// Evaluates a typed expression and boxes it (emit fields).
struct Boxer {
    TType type = TType::Void;
    NodePtr<double> f;
    NodePtr<int64_t> i;
    NodePtr<bool> b;
    Value eval(TFrame& fr) const {
        switch (type) {
            case TType::Float: return Value(f->eval(fr));
            case TType::Int: return Value(i->eval(fr));
            case TType::Bool: return Value(b->eval(fr));
            case TType::Void: return {};
        }
        return {};
    }
};

struct EmitStmt final : TStmt {
    Symbol type = kNoSymbol;
    std::vector<Symbol> names;
    std::vector<Boxer> values;
    TFlow exec(TFrame& f) const override {
        EmitCollector* out = f.ctx->emits;
        if (!out) return TFlow::Next;
        auto e = std::make_shared<Event>();
        e->type = type;
        e->timestamp = out->timestamp;
        e->fields.reserve(names.size());
        for (size_t k = 0; k < names.size(); ++k) e->fields.emplace_back(names[k], values[k].eval(f));
        out->events.push_back(std::move(e));
        return TFlow::Next;
    }
};

struct ExprStmt final : TStmt {
    Boxer value;  // evaluated for its effects
    TFlow exec(TFrame& f) const override {
        (void)value.eval(f);
        return TFlow::Next;
    }
};

}  // namespace

/// A typed compilation: a body over `slot_count` unboxed slots (parameters first).
class TypedFunction {
  public:
    std::string name;
    TypedSignature signature;
    int slot_count = 0;
    TBlock body;
};

namespace {

thread_local int g_typed_depth = 0;

/// Run `fn` on a frame whose parameter slots are filled; returns the return slot.
Slot run_typed(const TypedFunction& fn, Slot* slots, const EvalContext* ctx, const TypedProgram* program) {
    if (g_typed_depth >= program->limits().max_call_depth) {
        throw EvalError("call depth exceeded " + std::to_string(program->limits().max_call_depth) + " in '" + fn.name +
                        "' (runaway recursion?)");
    }
    ++g_typed_depth;
    struct Guard {
        ~Guard() { --g_typed_depth; }
    } guard;
    TFrame frame{slots, ctx, program, {}};
    run_block(fn.body, frame);
    return frame.ret;
}

/// A call from typed code to a typed function.
template <typename R>
struct CallNode final : Node<R> {
    size_t index = 0;
    std::vector<Boxer> args;  // each already of the parameter's type
    R eval(TFrame& f) const override {
        const TypedFunction& fn = *f.program->function(index);
        constexpr int kInline = 32;
        Slot inline_slots[kInline];
        std::vector<Slot> heap;
        Slot* slots = inline_slots;
        if (fn.slot_count > kInline) {
            heap.resize(static_cast<size_t>(fn.slot_count));
            slots = heap.data();
        }
        for (size_t k = 0; k < args.size(); ++k) {
            switch (args[k].type) {
                case TType::Float: slots[k].f = args[k].f->eval(f); break;
                case TType::Int: slots[k].i = args[k].i->eval(f); break;
                case TType::Bool: slots[k].b = args[k].b->eval(f); break;
                case TType::Void: break;
            }
        }
        Slot r = run_typed(fn, slots, f.ctx, f.program);
        if constexpr (std::is_same_v<R, bool>) {
            return fn.signature.result == TType::Void ? false : r.b;
        } else {
            return slot_get<R>(r);
        }
    }
};

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
                        auto only = std::make_unique<IfOnlyStmt>();
                        only->cond = std::move(node->branches[0].first);
                        only->body = std::move(node->branches[0].second);
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
