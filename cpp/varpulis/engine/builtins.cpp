// SPDX-License-Identifier: Apache-2.0
// Scalar builtins (vpl-language.md §1.12). Bad arguments give null, like any failed evaluation.
#include <algorithm>
#include <chrono>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include "varpulis/common/time.hpp"
#include "varpulis/engine/expr.hpp"
#include "varpulis/engine/function.hpp"
#include "varpulis/engine/value_ops.hpp"

namespace varpulis::engine {

namespace {

using common::Array;
using common::Map;

Value math1(const Value* a, double (*f)(double)) { return a[0].is_number() ? Value(f(a[0].as_number())) : Value(); }

Value b_abs(const Value* a, size_t) {
    if (a[0].is_int()) return a[0].as_int() == INT64_MIN ? Value() : Value(static_cast<int64_t>(std::llabs(a[0].as_int())));
    return a[0].is_float() ? Value(std::fabs(a[0].as_float())) : Value();
}
Value b_sqrt(const Value* a, size_t) { return math1(a, [](double x) { return std::sqrt(x); }); }
Value b_log(const Value* a, size_t) { return math1(a, [](double x) { return std::log(x); }); }
Value b_log10(const Value* a, size_t) { return math1(a, [](double x) { return std::log10(x); }); }
Value b_exp(const Value* a, size_t) { return math1(a, [](double x) { return std::exp(x); }); }
Value b_sin(const Value* a, size_t) { return math1(a, [](double x) { return std::sin(x); }); }
Value b_cos(const Value* a, size_t) { return math1(a, [](double x) { return std::cos(x); }); }
Value b_tan(const Value* a, size_t) { return math1(a, [](double x) { return std::tan(x); }); }

Value to_int_rounded(const Value& v, double (*f)(double)) {
    if (v.is_int()) return v;
    if (!v.is_float() || !std::isfinite(v.as_float())) return {};
    double r = f(v.as_float());
    if (std::fabs(r) >= 9.2e18) return {};
    return Value(static_cast<int64_t>(r));
}
Value b_floor(const Value* a, size_t) { return to_int_rounded(a[0], [](double x) { return std::floor(x); }); }
Value b_ceil(const Value* a, size_t) { return to_int_rounded(a[0], [](double x) { return std::ceil(x); }); }
Value b_round(const Value* a, size_t) { return to_int_rounded(a[0], [](double x) { return std::round(x); }); }
Value b_pow(const Value* a, size_t) { return binary_op(vpl::BinaryOp::Pow, a[0], a[1]); }

/// min/max of two or more numbers, or of one array.
Value extreme(const Value* a, size_t n, int sign) {
    const Value* items = a;
    size_t count = n;
    if (n == 1 && a[0].kind() == Value::Kind::Array) {
        items = a[0].as_array().data();
        count = a[0].as_array().size();
    }
    const Value* best = nullptr;
    for (size_t i = 0; i < count; ++i) {
        if (items[i].is_null()) continue;
        if (!best) {
            best = &items[i];
            continue;
        }
        int c = compare_values(items[i], *best);
        if (c == 2) return {};
        if (c * sign > 0) best = &items[i];
    }
    return best ? *best : Value();
}
Value b_min(const Value* a, size_t n) { return extreme(a, n, -1); }
Value b_max(const Value* a, size_t n) { return extreme(a, n, 1); }

Value b_len(const Value* a, size_t) {
    switch (a[0].kind()) {
        case Value::Kind::Str: return Value(static_cast<int64_t>(a[0].as_string().size()));
        case Value::Kind::Array: return Value(static_cast<int64_t>(a[0].as_array().size()));
        case Value::Kind::Map: return Value(static_cast<int64_t>(a[0].as_map().size()));
        default: return {};
    }
}
Value b_first(const Value* a, size_t) {
    return a[0].kind() == Value::Kind::Array && !a[0].as_array().empty() ? a[0].as_array().front() : Value();
}
Value b_last(const Value* a, size_t) {
    return a[0].kind() == Value::Kind::Array && !a[0].as_array().empty() ? a[0].as_array().back() : Value();
}
Value b_push(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Array) return {};
    Array out = a[0].as_array();
    out.push_back(a[1]);
    Value pushed(std::move(out));
    check_value_size(pushed);
    return pushed;
}
Value b_pop(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Array) return {};
    Array out = a[0].as_array();
    if (!out.empty()) out.pop_back();
    return Value(std::move(out));
}
Value b_reverse(const Value* a, size_t) {
    if (a[0].is_string()) return Value(std::string(a[0].as_string().rbegin(), a[0].as_string().rend()));
    if (a[0].kind() != Value::Kind::Array) return {};
    return Value(Array(a[0].as_array().rbegin(), a[0].as_array().rend()));
}
Value b_sort(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Array) return {};
    Array out = a[0].as_array();
    for (const auto& v : out) {
        if (!out.empty() && compare_values(v, out[0]) == 2) return {};
    }
    std::stable_sort(out.begin(), out.end(), [](const Value& x, const Value& y) { return compare_values(x, y) < 0; });
    return Value(std::move(out));
}
Value b_contains(const Value* a, size_t) { return binary_op(vpl::BinaryOp::In, a[1], a[0]); }
Value b_keys(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Map) return {};
    Array out;
    for (const auto& [k, v] : a[0].as_map()) out.emplace_back(k);
    return Value(std::move(out));
}
Value b_values(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Map) return {};
    Array out;
    for (const auto& [k, v] : a[0].as_map()) out.push_back(v);
    return Value(std::move(out));
}
Value b_get(const Value* a, size_t n) {
    Value v;
    if (a[0].kind() == Value::Kind::Array && a[1].is_int()) {
        const auto& arr = a[0].as_array();
        int64_t i = a[1].as_int();
        if (i < 0) i += static_cast<int64_t>(arr.size());
        if (i >= 0 && i < static_cast<int64_t>(arr.size())) v = arr[static_cast<size_t>(i)];
    } else if (a[0].kind() == Value::Kind::Map && a[1].is_string()) {
        for (const auto& [k, item] : a[0].as_map()) {
            if (k == a[1].as_string()) v = item;
        }
    }
    return v.is_null() && n == 3 ? a[2] : v;
}
Value b_set(const Value* a, size_t) {
    if (a[0].kind() == Value::Kind::Array && a[1].is_int()) {
        Array out = a[0].as_array();
        int64_t i = a[1].as_int();
        if (i < 0) i += static_cast<int64_t>(out.size());
        if (i < 0 || i >= static_cast<int64_t>(out.size())) return {};
        out[static_cast<size_t>(i)] = a[2];
        Value changed(std::move(out));
        check_value_size(changed);
        return changed;
    }
    if (a[0].kind() == Value::Kind::Map && a[1].is_string()) {
        Map out = a[0].as_map();
        for (auto& [k, v] : out) {
            if (k == a[1].as_string()) {
                v = a[2];
                return Value(std::move(out));
            }
        }
        out.emplace_back(a[1].as_string(), a[2]);
        Value grown(std::move(out));
        check_value_size(grown);
        return grown;
    }
    return {};
}
Value b_range(const Value* a, size_t n) {
    int64_t lo = 0, hi = 0, step = 1;
    for (size_t i = 0; i < n; ++i) {
        if (!a[i].is_int()) return {};
    }
    if (n == 1) hi = a[0].as_int();
    if (n >= 2) {
        lo = a[0].as_int();
        hi = a[1].as_int();
    }
    if (n == 3) step = a[2].as_int();
    if (step == 0) return {};
    const size_t count = range_length(lo, hi, step);
    check_array_size(count);
    Array out;
    out.reserve(count);
    for (size_t k = 0; k < count; ++k) out.emplace_back(static_cast<int64_t>(static_cast<uint64_t>(lo) + k * static_cast<uint64_t>(step)));
    return Value(std::move(out));
}
Value b_sum(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Array) return {};
    double total = 0;
    for (const auto& v : a[0].as_array()) {
        if (v.is_number()) total += v.as_number();
    }
    return Value(total);
}
Value b_avg(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Array) return {};
    double total = 0;
    size_t count = 0;
    for (const auto& v : a[0].as_array()) {
        if (v.is_number()) {
            total += v.as_number();
            ++count;
        }
    }
    return count ? Value(total / static_cast<double>(count)) : Value();
}

Value b_to_string(const Value* a, size_t) { return Value(a[0].to_display()); }
Value b_to_int(const Value* a, size_t) {
    const Value& v = a[0];
    if (v.is_int()) return v;
    if (v.is_float()) return to_int_rounded(v, [](double x) { return std::trunc(x); });
    if (v.is_bool()) return Value(static_cast<int64_t>(v.as_bool()));
    if (v.is_string()) {
        const auto& s = v.as_string();
        int64_t out = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        if (ec == std::errc() && p == s.data() + s.size()) return Value(out);
        double d = 0;
        auto [p2, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec2 == std::errc() && p2 == s.data() + s.size()) return to_int_rounded(Value(d), [](double x) { return std::trunc(x); });
    }
    return {};
}
Value b_to_float(const Value* a, size_t) {
    const Value& v = a[0];
    if (v.is_number()) return Value(v.as_number());
    if (v.is_bool()) return Value(v.as_bool() ? 1.0 : 0.0);
    if (v.is_string()) {
        const auto& s = v.as_string();
        double d = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec == std::errc() && p == s.data() + s.size()) return Value(d);
    }
    return {};
}
Value b_trim(const Value* a, size_t) {
    if (!a[0].is_string()) return {};
    const auto& s = a[0].as_string();
    size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return Value(b == std::string::npos ? std::string() : s.substr(b, e - b + 1));
}
Value b_lower(const Value* a, size_t) {
    if (!a[0].is_string()) return {};
    std::string s = a[0].as_string();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return Value(std::move(s));
}
Value b_upper(const Value* a, size_t) {
    if (!a[0].is_string()) return {};
    std::string s = a[0].as_string();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return Value(std::move(s));
}
Value b_split(const Value* a, size_t) {
    if (!a[0].is_string() || !a[1].is_string() || a[1].as_string().empty()) return {};
    const auto& s = a[0].as_string();
    const auto& sep = a[1].as_string();
    Array out;
    size_t start = 0;
    for (size_t pos; (pos = s.find(sep, start)) != std::string::npos; start = pos + sep.size()) {
        out.emplace_back(s.substr(start, pos - start));
        check_array_size(out.size());
    }
    out.emplace_back(s.substr(start));
    return Value(std::move(out));
}
Value b_join(const Value* a, size_t) {
    if (a[0].kind() != Value::Kind::Array || !a[1].is_string()) return {};
    std::string out;
    const auto& arr = a[0].as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
        if (i) out += a[1].as_string();
        out += arr[i].to_display();
        check_string_size(out.size());
    }
    return Value(std::move(out));
}
Value b_replace(const Value* a, size_t) {
    if (!a[0].is_string() || !a[1].is_string() || !a[2].is_string() || a[1].as_string().empty()) return {};
    const auto& s = a[0].as_string();
    const auto& from = a[1].as_string();
    const auto& to = a[2].as_string();
    // One pass into a new string: replacing in place shifted the tail at every match, and a
    // loop doubling a string with replace() took minutes (quadratic) before any size limit.
    std::string out;
    size_t start = 0;
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, start)) {
        check_string_size(out.size() + (pos - start) + to.size());
        out.append(s, start, pos - start).append(to);
        start = pos + from.size();
    }
    check_string_size(out.size() + (s.size() - start));
    out.append(s, start, std::string::npos);
    return Value(std::move(out));
}
Value b_starts_with(const Value* a, size_t) {
    return a[0].is_string() && a[1].is_string() ? Value(a[0].as_string().starts_with(a[1].as_string())) : Value();
}
Value b_ends_with(const Value* a, size_t) {
    return a[0].is_string() && a[1].is_string() ? Value(a[0].as_string().ends_with(a[1].as_string())) : Value();
}
/// substring(s, start[, end]) in characters (code points), clamped.
Value b_substring(const Value* a, size_t n) {
    if (!a[0].is_string() || !a[1].is_int() || (n == 3 && !a[2].is_int())) return {};
    const auto& s = a[0].as_string();
    std::vector<size_t> starts;
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
    }
    auto chars = static_cast<int64_t>(starts.size());
    int64_t lo = std::clamp<int64_t>(a[1].as_int(), 0, chars);
    int64_t hi = n == 3 ? std::clamp<int64_t>(a[2].as_int(), lo, chars) : chars;
    size_t from = lo < chars ? starts[static_cast<size_t>(lo)] : s.size();
    size_t to = hi < chars ? starts[static_cast<size_t>(hi)] : s.size();
    return Value(s.substr(from, to - from));
}
Value b_type_of(const Value* a, size_t) { return Value(std::string(a[0].type_name())); }
Value b_is_null(const Value* a, size_t) { return Value(a[0].is_null()); }
Value b_is_int(const Value* a, size_t) { return Value(a[0].is_int()); }
Value b_is_float(const Value* a, size_t) { return Value(a[0].is_float()); }
Value b_is_string(const Value* a, size_t) { return Value(a[0].is_string()); }
Value b_is_bool(const Value* a, size_t) { return Value(a[0].is_bool()); }
Value b_is_array(const Value* a, size_t) { return Value(a[0].kind() == Value::Kind::Array); }
Value b_is_map(const Value* a, size_t) { return Value(a[0].kind() == Value::Kind::Map); }
Value b_now(const Value*, size_t) {
    return Value(common::Timestamp{common::wall_clock_ns()});
}
Value b_coalesce(const Value* a, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (!a[i].is_null()) return a[i];
    }
    return {};
}

const std::unordered_map<std::string_view, BuiltinFn>& table() {
    static const std::unordered_map<std::string_view, BuiltinFn> t = {
        {"abs", b_abs}, {"sqrt", b_sqrt}, {"floor", b_floor}, {"ceil", b_ceil}, {"round", b_round},
        {"pow", b_pow}, {"log", b_log}, {"log10", b_log10}, {"exp", b_exp}, {"sin", b_sin},
        {"cos", b_cos}, {"tan", b_tan}, {"min", b_min}, {"max", b_max}, {"len", b_len},
        {"first", b_first}, {"last", b_last}, {"push", b_push}, {"pop", b_pop}, {"reverse", b_reverse},
        {"sort", b_sort}, {"contains", b_contains}, {"keys", b_keys}, {"values", b_values}, {"get", b_get},
        {"set", b_set}, {"range", b_range}, {"sum", b_sum}, {"avg", b_avg}, {"to_string", b_to_string},
        {"to_int", b_to_int}, {"to_float", b_to_float}, {"trim", b_trim}, {"lower", b_lower},
        {"lowercase", b_lower}, {"upper", b_upper}, {"uppercase", b_upper}, {"split", b_split},
        {"join", b_join}, {"replace", b_replace}, {"starts_with", b_starts_with}, {"ends_with", b_ends_with},
        {"substring", b_substring}, {"type_of", b_type_of}, {"is_null", b_is_null}, {"is_int", b_is_int},
        {"is_float", b_is_float}, {"is_string", b_is_string}, {"is_bool", b_is_bool}, {"is_array", b_is_array},
        {"is_map", b_is_map}, {"now", b_now}, {"coalesce", b_coalesce},
    };
    return t;
}

}  // namespace

BuiltinFn find_builtin(std::string_view name) {
    auto it = table().find(name);
    return it == table().end() ? nullptr : it->second;
}

}  // namespace varpulis::engine
