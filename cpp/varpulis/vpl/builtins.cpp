// SPDX-License-Identifier: Apache-2.0
#include "varpulis/vpl/builtins.hpp"

#include <algorithm>
#include <utility>

namespace varpulis::vpl {

namespace {

struct Entry {
    std::string_view name;
    Arity arity;
};

constexpr Entry kBuiltins[] = {
    // math
    {"abs", {1, 1}}, {"sqrt", {1, 1}}, {"floor", {1, 1}}, {"ceil", {1, 1}}, {"round", {1, 1}},
    {"pow", {2, 2}}, {"log", {1, 1}}, {"log10", {1, 1}}, {"exp", {1, 1}}, {"sin", {1, 1}},
    {"cos", {1, 1}}, {"tan", {1, 1}}, {"min", {1, -1}}, {"max", {1, -1}},
    // collections
    {"len", {1, 1}}, {"first", {1, 1}}, {"last", {1, 1}}, {"push", {2, 2}}, {"pop", {1, 1}},
    {"reverse", {1, 1}}, {"sort", {1, 1}}, {"contains", {2, 2}}, {"keys", {1, 1}},
    {"values", {1, 1}}, {"get", {2, 3}}, {"set", {3, 3}}, {"range", {1, 3}}, {"sum", {1, 1}},
    {"avg", {1, 1}},
    // strings
    {"to_string", {1, 1}}, {"to_int", {1, 1}}, {"to_float", {1, 1}}, {"trim", {1, 1}},
    {"lower", {1, 1}}, {"lowercase", {1, 1}}, {"upper", {1, 1}}, {"uppercase", {1, 1}},
    {"split", {2, 2}}, {"join", {2, 2}}, {"replace", {3, 3}}, {"starts_with", {2, 2}},
    {"ends_with", {2, 2}}, {"substring", {2, 3}},
    // types
    {"type_of", {1, 1}}, {"is_null", {1, 1}}, {"is_int", {1, 1}}, {"is_float", {1, 1}},
    {"is_string", {1, 1}}, {"is_bool", {1, 1}}, {"is_array", {1, 1}}, {"is_map", {1, 1}},
    // extras
    {"now", {0, 0}}, {"coalesce", {1, -1}},
};

constexpr Entry kAggregates[] = {
    {"count", {0, 1}}, {"sum", {1, 1}},   {"avg", {1, 1}},   {"min", {1, 1}},
    {"max", {1, 1}},   {"stddev", {1, 1}}, {"first", {1, 1}}, {"last", {1, 1}},
    {"count_distinct", {1, 1}}, {"ema", {2, 2}},
};

template <size_t N>
std::optional<Arity> find(const Entry (&table)[N], std::string_view name) {
    for (const auto& e : table) {
        if (e.name == name) return e.arity;
    }
    return std::nullopt;
}

}  // namespace

std::optional<Arity> builtin_arity(std::string_view name) { return find(kBuiltins, name); }

std::optional<Arity> aggregate_arity(std::string_view name) { return find(kAggregates, name); }

bool op_is_implemented(OpKind kind) {
    switch (kind) {
        case OpKind::OrderBy:
        case OpKind::Map:
        case OpKind::Tap:
        case OpKind::Pattern:
        case OpKind::Concurrent:
        case OpKind::OnError:
        case OpKind::Collect:
        case OpKind::Fork:
        case OpKind::Any:
        case OpKind::All:
        case OpKind::TrendAggregate:
        case OpKind::Score:
        case OpKind::Forecast:
        case OpKind::Enrich:
            return false;
        default:
            return true;
    }
}

std::optional<std::vector<std::string_view>> op_named_params(OpKind kind) {
    switch (kind) {
        case OpKind::Log: return std::vector<std::string_view>{"level", "message", "data"};
        case OpKind::Watermark: return std::vector<std::string_view>{"out_of_order"};
        case OpKind::Window: return std::vector<std::string_view>{"sliding", "session", "policy"};
        case OpKind::Forecast:
            return std::vector<std::string_view>{"confidence", "horizon", "warmup", "max_depth",
                                                 "hawkes", "conformal", "mode"};
        case OpKind::Enrich:
            return std::vector<std::string_view>{"key", "fields", "cache_ttl", "timeout", "fallback"};
        default: return std::nullopt;
    }
}

std::optional<std::vector<std::string_view>> connector_params(std::string_view kind) {
    if (kind == "mqtt") {
        return std::vector<std::string_view>{"host", "port", "client_id", "qos", "username", "password",
                                             "topic", "tls", "ca_file", "cert_file", "key_file",
                                             "keep_alive", "clean_session", "queue_size", "drop_when_full"};
    }
    if (kind == "file") return std::vector<std::string_view>{"path", "append", "format"};
    if (kind == "console") return std::vector<std::string_view>{"format", "pretty"};
    if (kind == "http") return std::vector<std::string_view>{"url", "method", "headers", "timeout"};
    return std::nullopt;
}

}  // namespace varpulis::vpl
