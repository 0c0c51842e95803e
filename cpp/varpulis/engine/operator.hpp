// SPDX-License-Identifier: Apache-2.0
#pragma once

// The operator interface of a stream pipeline. Each operator transforms the current batch of
// events in place; an empty batch stops the pipeline for that input.

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "varpulis/common/status.hpp"
#include "varpulis/common/string_hash.hpp"
#include "varpulis/engine/event.hpp"
#include "varpulis/engine/expr.hpp"

namespace varpulis::engine {

using Batch = std::vector<EventPtr>;

/// What operators may use while they run.
struct OpContext {
    EvalContext eval;     ///< globals and functions; `event` is set per event
    Symbol stream_name = kNoSymbol;
};

class Operator {
  public:
    virtual ~Operator() = default;
    /// Transform `batch` in place.
    virtual void apply(Batch& batch, OpContext& ctx) = 0;
    /// At end of input, move what the operator still holds (open time and session windows) into
    /// `out`. Most operators hold nothing.
    virtual void flush(Batch& /*out*/, OpContext& /*ctx*/) {}
    /// Return the number of events or runs held in memory (for metrics and memory tests).
    virtual size_t held() const { return 0; }
    /// Return how many events or runs the operator dropped at a limit of its state (counted in
    /// metrics: a dropped run is a match that cannot happen).
    virtual uint64_t evicted() const { return 0; }
    /// Snapshot the operator's state (null when it keeps none).
    virtual nlohmann::json save() const { return nullptr; }
    /// Restore a snapshot made by save() of the same operator.
    virtual common::Status load(const nlohmann::json& /*state*/) { return common::Status::ok(); }
};

using OperatorPtr = std::unique_ptr<Operator>;

/// Evaluate `key` on an event into `out`: the value's text, "default" when missing, "" without a
/// key. Reuses `out`'s storage, so the common case allocates nothing.
void partition_key(const CompiledExpr* key, const Event& e, const OpContext& ctx, std::string& out);

/// Per-partition state, looked up by key text without building a string.
template <typename State>
class PartitionMap {
  public:
    using iterator = typename common::StringMap<State>::iterator;

    State& get(std::string_view key) { return find_or_make(key)->second; }
    /// The partition's entry, made when missing; erase(iterator) then needs no second lookup.
    iterator find_or_make(std::string_view key) {
        auto it = map_.find(key);
        if (it != map_.end()) return it;
        return map_.emplace(std::string(key), State()).first;
    }
    void erase(std::string_view key) {
        auto it = map_.find(key);
        if (it != map_.end()) map_.erase(it);
    }
    void erase(iterator it) { map_.erase(it); }
    void clear() { map_.clear(); }
    auto& entries() { return map_; }
    const auto& entries() const { return map_; }
    /// The keys in sorted order (deterministic flush output).
    std::vector<std::string> sorted_keys() const {
        std::vector<std::string> keys;
        keys.reserve(map_.size());
        for (const auto& [k, v] : map_) keys.push_back(k);
        std::sort(keys.begin(), keys.end());
        return keys;
    }

  private:
    common::StringMap<State> map_;
};

}  // namespace varpulis::engine
