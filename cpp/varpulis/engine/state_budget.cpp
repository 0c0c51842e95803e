// SPDX-License-Identifier: Apache-2.0
#include "varpulis/engine/state_budget.hpp"

#include <string>

namespace varpulis::engine {

namespace {

// Per value: the variant itself, plus a few bytes for its separators in a checkpoint.
constexpr size_t kValueBytes = sizeof(Value) + 8;
// Per event: the struct, the shared_ptr's control block, its type and timestamp in a checkpoint.
constexpr size_t kEventBytes = sizeof(Event) + 64;
// Values nest at most kMaxValueDepth (64) levels; past this the estimate stops descending, which
// keeps the walk cheap and never recursive without bound.
constexpr int kMaxWalkDepth = 8;

size_t value_bytes_at(const Value& v, int depth) {
    size_t n = kValueBytes;
    switch (v.kind()) {
        case Value::Kind::Str: return n + v.as_string().size();
        case Value::Kind::Array:
            if (depth >= kMaxWalkDepth) return n;
            for (const auto& item : v.as_array()) n += value_bytes_at(item, depth + 1);
            return n;
        case Value::Kind::Map:
            if (depth >= kMaxWalkDepth) return n;
            for (const auto& [key, item] : v.as_map()) n += key.size() + value_bytes_at(item, depth + 1);
            return n;
        default: return n;
    }
}

}  // namespace

common::Status over_budget_error(const StateBudget& budget) {
    return common::Status(common::ErrorCode::LimitExceeded,
                          "the checkpoint holds about " + std::to_string(budget.held()) + " bytes of window, join and distinct state; this engine's state budget is " +
                              std::to_string(budget.max()) + " (max_state_bytes)");
}

size_t value_bytes(const Value& v) { return value_bytes_at(v, 0); }

size_t event_bytes(const Event& e) {
    size_t n = kEventBytes + e.type_name().size();
    for (const auto& [name, value] : e.fields) {
        n += symbol_name(name).size();
        n += value.is_string() ? kValueBytes + value.as_string().size() : value_bytes_at(value, 0);
    }
    return n;
}

}  // namespace varpulis::engine
