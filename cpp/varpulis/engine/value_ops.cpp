// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/value_ops.hpp"

#include <cmath>

#include "varpulis/engine/function.hpp"

namespace varpulis::engine {

using common::Duration;
using common::Timestamp;
using vpl::BinaryOp;
using vpl::UnaryOp;

namespace {

Value int_arith(BinaryOp op, int64_t a, int64_t b) {
    int64_t r = 0;
    switch (op) {
        case BinaryOp::Add: return __builtin_add_overflow(a, b, &r) ? Value() : Value(r);
        case BinaryOp::Sub: return __builtin_sub_overflow(a, b, &r) ? Value() : Value(r);
        case BinaryOp::Mul: return __builtin_mul_overflow(a, b, &r) ? Value() : Value(r);
        case BinaryOp::Div:
            if (b == 0 || (a == INT64_MIN && b == -1)) return {};
            return Value(a / b);
        case BinaryOp::Mod:
            if (b == 0 || (a == INT64_MIN && b == -1)) return {};
            return Value(a % b);
        case BinaryOp::Pow: {
            if (b < 0) return Value(std::pow(static_cast<double>(a), static_cast<double>(b)));
            double p = std::pow(static_cast<double>(a), static_cast<double>(b));
            if (!(std::fabs(p) < 9.2e18)) return {};
            int64_t acc = 1;
            for (int64_t i = 0; i < b; ++i) acc *= a;
            return Value(acc);
        }
        case BinaryOp::BitOr: return Value(a | b);
        case BinaryOp::BitXor: return Value(a ^ b);
        case BinaryOp::BitAnd: return Value(a & b);
        case BinaryOp::Shl: return b < 0 || b > 63 ? Value() : Value(static_cast<int64_t>(static_cast<uint64_t>(a) << b));
        case BinaryOp::Shr: return b < 0 || b > 63 ? Value() : Value(a >> b);
        default: return {};
    }
}

Value float_arith(BinaryOp op, double a, double b) {
    switch (op) {
        case BinaryOp::Add: return Value(a + b);
        case BinaryOp::Sub: return Value(a - b);
        case BinaryOp::Mul: return Value(a * b);
        case BinaryOp::Div: return b == 0 ? Value() : Value(a / b);
        case BinaryOp::Mod: return b == 0 ? Value() : Value(std::fmod(a, b));
        case BinaryOp::Pow: return Value(std::pow(a, b));
        default: return {};
    }
}

/// Durations and timestamps: d ± d, ts ± d, ts - ts, d * n, d / n.
Value time_arith(BinaryOp op, const Value& a, const Value& b) {
    using K = Value::Kind;
    if (a.kind() == K::Duration && b.kind() == K::Duration) {
        if (op == BinaryOp::Add) return Value(Duration{a.as_duration().ns + b.as_duration().ns});
        if (op == BinaryOp::Sub) return Value(Duration{a.as_duration().ns - b.as_duration().ns});
    }
    if (a.kind() == K::Timestamp && b.kind() == K::Duration) {
        if (op == BinaryOp::Add) return Value(Timestamp{a.as_timestamp().ns + b.as_duration().ns});
        if (op == BinaryOp::Sub) return Value(Timestamp{a.as_timestamp().ns - b.as_duration().ns});
    }
    if (a.kind() == K::Timestamp && b.kind() == K::Timestamp && op == BinaryOp::Sub) {
        return Value(Duration{a.as_timestamp().ns - b.as_timestamp().ns});
    }
    if (a.kind() == K::Duration && b.is_number()) {
        double n = b.as_number();
        if (op == BinaryOp::Mul) return Value(Duration{static_cast<int64_t>(static_cast<double>(a.as_duration().ns) * n)});
        if (op == BinaryOp::Div && n != 0) return Value(Duration{static_cast<int64_t>(static_cast<double>(a.as_duration().ns) / n)});
    }
    return {};
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case Value::Kind::Array:
            for (const auto& v : container.as_array()) {
                if (v == item) return true;
            }
            return false;
        case Value::Kind::Map:
            if (!item.is_string()) return false;
            for (const auto& [k, v] : container.as_map()) {
                if (k == item.as_string()) return true;
            }
            return false;
        case Value::Kind::Str:
            return item.is_string() && container.as_string().find(item.as_string()) != std::string::npos;
        default: return false;
    }
}

}  // namespace

int compare_values(const Value& a, const Value& b) {
    using K = Value::Kind;
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    if (a.is_number() && b.is_number()) {
        double x = a.as_number(), y = b.as_number();
        if (std::isnan(x) || std::isnan(y)) return 2;
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.kind() != b.kind()) return 2;
    switch (a.kind()) {
        case K::Str: {
            int c = a.as_string().compare(b.as_string());
            return c < 0 ? -1 : c > 0 ? 1 : 0;
        }
        case K::Duration: return a.as_duration().ns < b.as_duration().ns ? -1 : a.as_duration().ns > b.as_duration().ns ? 1 : 0;
        case K::Timestamp:
            return a.as_timestamp().ns < b.as_timestamp().ns ? -1 : a.as_timestamp().ns > b.as_timestamp().ns ? 1 : 0;
        case K::Bool: return a.as_bool() == b.as_bool() ? 0 : a.as_bool() ? 1 : -1;
        default: return 2;
    }
}

Value binary_op(BinaryOp op, const Value& a, const Value& b) {
    switch (op) {
        case BinaryOp::Eq: return Value(a == b);
        case BinaryOp::Ne: return Value(!(a == b));
        case BinaryOp::Lt:
        case BinaryOp::Le:
        case BinaryOp::Gt:
        case BinaryOp::Ge: {
            int c = compare_values(a, b);
            if (c == 2) return {};
            bool r = op == BinaryOp::Lt ? c < 0 : op == BinaryOp::Le ? c <= 0 : op == BinaryOp::Gt ? c > 0 : c >= 0;
            return Value(r);
        }
        case BinaryOp::In:
        case BinaryOp::NotIn: {
            if (a.is_null() || b.is_null()) return {};
            bool r = contains(b, a);
            return Value(op == BinaryOp::In ? r : !r);
        }
        default: break;
    }
    if (a.is_int() && b.is_int()) return int_arith(op, a.as_int(), b.as_int());
    if (a.is_number() && b.is_number()) return float_arith(op, a.as_number(), b.as_number());
    if (op == BinaryOp::Add && a.is_string() && b.is_string()) {
        check_string_size(a.as_string().size() + b.as_string().size());
        return Value(a.as_string() + b.as_string());
    }
    return time_arith(op, a, b);
}

void check_string_size(size_t bytes) {
    if (bytes > kMaxStringBytes) {
        throw EvalError("a string of " + std::to_string(bytes) + " bytes is longer than the limit of 16 MiB");
    }
}

namespace {

struct WrittenSize {
    size_t values = 0;
    size_t string_bytes = 0;
};

void add_written_size(const Value& v, size_t depth, WrittenSize& size) {
    if (depth > kMaxValueDepth) throw EvalError("a value nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
    if (v.is_string()) {
        size.string_bytes += v.as_string().size();
        if (size.string_bytes > 4 * kMaxStringBytes) throw EvalError("a value holding more than 64 MiB of strings");
        return;
    }
    auto items = [&](size_t n) {
        size.values += n;
        if (size.values > kMaxArrayItems) throw EvalError("a value holding more than 1,000,000 values");
    };
    if (v.kind() == Value::Kind::Array) {
        items(v.as_array().size());
        for (const auto& item : v.as_array()) add_written_size(item, depth + 1, size);
    } else if (v.kind() == Value::Kind::Map) {
        items(v.as_map().size());
        for (const auto& [key, item] : v.as_map()) add_written_size(item, depth + 1, size);
    }
}

}  // namespace

void check_value_size(const Value& v) {
    WrittenSize size;
    add_written_size(v, 1, size);
}

size_t range_length(int64_t from, int64_t to, int64_t step) {
    const auto ufrom = static_cast<uint64_t>(from), uto = static_cast<uint64_t>(to);
    if (step > 0 && to > from) return static_cast<size_t>((uto - ufrom - 1) / static_cast<uint64_t>(step) + 1);
    if (step < 0 && to < from) return static_cast<size_t>((ufrom - uto - 1) / (0 - static_cast<uint64_t>(step)) + 1);
    return 0;
}

void check_array_size(size_t items) {
    if (items > kMaxArrayItems) {
        throw EvalError("an array of " + std::to_string(items) + " items is longer than the limit of 1,000,000");
    }
}

Value unary_op(UnaryOp op, const Value& v) {
    switch (op) {
        case UnaryOp::Neg:
            if (v.is_int()) return v.as_int() == INT64_MIN ? Value() : Value(-v.as_int());
            if (v.is_float()) return Value(-v.as_float());
            if (v.kind() == Value::Kind::Duration) return Value(Duration{-v.as_duration().ns});
            return {};
        case UnaryOp::Plus: return v.is_number() ? v : Value();
        case UnaryOp::BitNot: return v.is_int() ? Value(~v.as_int()) : Value();
        case UnaryOp::Not: return v.is_bool() ? Value(!v.as_bool()) : Value();
    }
    return {};
}

std::string key_text(const Value& v) { return v.to_display(); }

}  // namespace varpulis::engine
