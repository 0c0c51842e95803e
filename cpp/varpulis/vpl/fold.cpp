// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/fold.hpp"

#include <cmath>

#include "varpulis/vpl/ast_walk.hpp"

namespace varpulis::vpl {

namespace {

std::optional<Value> fold_int(BinaryOp op, int64_t a, int64_t b) {
    int64_t r = 0;
    switch (op) {
        case BinaryOp::Add:
            if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
            return Value(r);
        case BinaryOp::Sub:
            if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
            return Value(r);
        case BinaryOp::Mul:
            if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
            return Value(r);
        case BinaryOp::Div:
            if (b == 0 || (a == INT64_MIN && b == -1)) return std::nullopt;
            return Value(a / b);
        case BinaryOp::Mod:
            if (b == 0 || (a == INT64_MIN && b == -1)) return std::nullopt;
            return Value(a % b);
        default: return std::nullopt;
    }
}

std::optional<Value> fold_float(BinaryOp op, double a, double b) {
    switch (op) {
        case BinaryOp::Add: return Value(a + b);
        case BinaryOp::Sub: return Value(a - b);
        case BinaryOp::Mul: return Value(a * b);
        case BinaryOp::Div:
            if (b == 0) return std::nullopt;
            return Value(a / b);
        case BinaryOp::Mod:
            if (b == 0) return std::nullopt;
            return Value(std::fmod(a, b));
        default: return std::nullopt;
    }
}

std::optional<Value> fold_binary(BinaryOp op, const Value& a, const Value& b) {
    if (op == BinaryOp::Add && a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (!a.is_number() || !b.is_number()) return std::nullopt;
    if (a.is_int() && b.is_int()) return fold_int(op, a.as_int(), b.as_int());
    return fold_float(op, a.as_number(), b.as_number());
}

std::optional<Value> fold_unary(UnaryOp op, const Value& v) {
    if (op == UnaryOp::Plus && v.is_number()) return v;
    if (op != UnaryOp::Neg) return std::nullopt;
    if (v.is_int() && v.as_int() != INT64_MIN) return Value(-v.as_int());
    if (v.is_float()) return Value(-v.as_float());
    if (v.kind() == Value::Kind::Duration) return std::nullopt;
    return std::nullopt;
}

}  // namespace

ExprPtr fold_expr(ExprPtr e) {
    if (!e) return e;
    for (auto& c : e->children) c = fold_expr(c);
    std::optional<Value> folded;
    if (e->kind == ExprKind::Binary && e->children[0]->kind == ExprKind::Literal &&
        e->children[1]->kind == ExprKind::Literal) {
        folded = fold_binary(e->binary_op, e->children[0]->value, e->children[1]->value);
    } else if (e->kind == ExprKind::Unary && e->children[0]->kind == ExprKind::Literal) {
        folded = fold_unary(e->unary_op, e->children[0]->value);
    }
    if (!folded) return e;
    auto lit = std::make_shared<Expr>();
    lit->kind = ExprKind::Literal;
    lit->span = e->span;
    lit->value = std::move(*folded);
    return lit;
}

void fold_constants(Program& program) {
    walk_exprs(program.statements, [](ExprPtr& slot) { slot = fold_expr(slot); });
}

}  // namespace varpulis::vpl
