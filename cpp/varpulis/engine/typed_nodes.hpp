// SPDX-License-Identifier: Apache-2.0
#pragma once

// What typed functions run as (typed_function.cpp compiles function bodies into it): unboxed
// slots, expression nodes specialised by type, statements, and calls between typed functions.
// Private to the engine: only typed_function.cpp includes it.

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "varpulis/engine/typed_function.hpp"

namespace varpulis::engine {

namespace typed {


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
template <> inline double slot_get<double>(const Slot& s) { return s.f; }
template <> inline int64_t slot_get<int64_t>(const Slot& s) { return s.i; }
template <> inline bool slot_get<bool>(const Slot& s) { return s.b; }
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
    /// Compile time only: the same for `if <this>: body` (no elif, no else).
    virtual std::unique_ptr<TStmt> into_if(std::vector<std::unique_ptr<TStmt>>& /*body*/) { return nullptr; }
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

template <typename T, typename Op, typename A, typename B> struct WhileBinStmt;
template <typename T, typename Op, typename A, typename B> struct IfBinStmt;

template <typename R, typename T, typename Op, typename A, typename B>
struct BinNode final : Node<R> {
    BinNode(A a, B b) : a(std::move(a)), b(std::move(b)) {}
    A a;
    B b;
    R eval(TFrame& f) const override { return Op::apply(a.get(f), b.get(f)); }
    std::unique_ptr<TStmt> into_assign(int slot) override;
    std::unique_ptr<TStmt> into_while(std::vector<std::unique_ptr<TStmt>>& body) override { return into_test<WhileBinStmt>(body); }
    std::unique_ptr<TStmt> into_if(std::vector<std::unique_ptr<TStmt>>& body) override { return into_test<IfBinStmt>(body); }

  private:
    /// `Stmt` testing this comparison, with `body`; null unless this is a comparison.
    template <template <typename, typename, typename, typename> class Stmt>
    std::unique_ptr<TStmt> into_test(std::vector<std::unique_ptr<TStmt>>& body);
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
template <> inline NodePtr<double>& node_of<double>(TExpr& e) { return e.f; }
template <> inline NodePtr<int64_t>& node_of<int64_t>(TExpr& e) { return e.i; }
template <> inline NodePtr<bool>& node_of<bool>(TExpr& e) { return e.b; }

template <typename T> TType type_of();
template <> inline TType type_of<double>() { return TType::Float; }
template <> inline TType type_of<int64_t>() { return TType::Int; }
template <> inline TType type_of<bool>() { return TType::Bool; }

/// Hand the operand form of `e` (slot, constant or node) to `k`.
template <typename T, typename K>
auto with_operand(TExpr& e, K&& k) {
    if (e.slot >= 0) return k(FromSlot<T>{e.slot});
    if (e.is_const) return k(FromConst<T>{slot_get<T>(e.konst)});
    return k(FromNode<T>{std::move(node_of<T>(e))});
}

template <typename T>
inline TExpr from_node(NodePtr<T> n) {
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

inline TExpr int_to_float(TExpr e) {
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
inline TExpr binary(TExpr a, TExpr b) {
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

inline TFlow run_block(const TBlock& block, TFrame& f) {
    for (const auto& s : block) {
        TFlow flow = s->exec(f);
        if (flow != TFlow::Next) return flow;
    }
    return TFlow::Next;
}

inline void check_loop_guard(int64_t n, const TFrame& f) {
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

/// A while loop over `body` as long as `holds()`, with the runaway-loop guard checked every 4,096
/// turns. A template, so each loop's condition is inlined into it.
template <typename Cond>
TFlow run_while(Cond&& holds, const TBlock& body, TFrame& f) {
    int64_t n = 0;
    while (holds()) {
        if ((++n & 0xFFF) == 0) check_loop_guard(n, f);
        TFlow flow = run_block(body, f);
        if (flow == TFlow::Break) break;
        if (flow == TFlow::Return) return flow;
    }
    check_loop_guard(n, f);
    return TFlow::Next;
}

struct WhileStmt final : TStmt {
    NodePtr<bool> cond;
    TBlock body;
    TFlow exec(TFrame& f) const override {
        return run_while([&] { return cond->eval(f); }, body, f);
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

/// A statement that tests `a OP b` with the comparison inlined, and its body.
template <typename T, typename Op, typename A, typename B>
struct BinTestStmt : TStmt {
    BinTestStmt(A a, B b, TBlock body) : a(std::move(a)), b(std::move(b)), body(std::move(body)) {}
    A a;
    B b;
    TBlock body;
    bool holds(TFrame& f) const { return Op::apply(a.get(f), b.get(f)); }
};

/// `while a OP b: body`.
template <typename T, typename Op, typename A, typename B>
struct WhileBinStmt final : BinTestStmt<T, Op, A, B> {
    using BinTestStmt<T, Op, A, B>::BinTestStmt;
    TFlow exec(TFrame& f) const override {
        return run_while([&] { return this->holds(f); }, this->body, f);
    }
};

/// `if a OP b: body` (no elif/else): a loop's exit test, as in `if r2 + i2 > 4.0: return i`,
/// costs one dispatch less per turn.
template <typename T, typename Op, typename A, typename B>
struct IfBinStmt final : BinTestStmt<T, Op, A, B> {
    using BinTestStmt<T, Op, A, B>::BinTestStmt;
    TFlow exec(TFrame& f) const override { return this->holds(f) ? run_block(this->body, f) : TFlow::Next; }
};

template <typename R, typename T, typename Op, typename A, typename B>
template <template <typename, typename, typename, typename> class Stmt>
std::unique_ptr<TStmt> BinNode<R, T, Op, A, B>::into_test(TBlock& body) {
    if constexpr (std::is_same_v<R, bool>) {
        return std::make_unique<Stmt<T, Op, A, B>>(std::move(a), std::move(b), std::move(body));
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

}  // namespace typed

/// A typed compilation: a body over `slot_count` unboxed slots (parameters first).
class TypedFunction {
  public:
    std::string name;
    TypedSignature signature;
    int slot_count = 0;
    typed::TBlock body;
};

namespace typed {


inline thread_local int g_typed_depth = 0;

/// Run `fn` on a frame whose parameter slots are filled; returns the return slot.
inline Slot run_typed(const TypedFunction& fn, Slot* slots, const EvalContext* ctx, const TypedProgram* program) {
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

}  // namespace typed

}  // namespace varpulis::engine
