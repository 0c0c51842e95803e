// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <deque>
#include <map>
#include <string>

#include "varpulis/engine/operator.hpp"
#include "varpulis/engine/state_budget.hpp"

namespace varpulis::engine {

/// The five window kinds of `.window(...)` (vpl-language.md §1.7.4).
struct WindowSpec {
    enum class Kind { CountTumbling, CountSliding, TimeTumbling, TimeSliding, Session };
    Kind kind = Kind::CountTumbling;
    int64_t size = 0;   ///< events (count windows) or nanoseconds (time windows, session gap)
    int64_t slide = 0;  ///< events or nanoseconds between emissions of a sliding window
};

/// `.window(...)`, one independent window per partition key when `key` is set.
class WindowOp final : public Operator {
  public:
    /// `budget`, shared with the engine's other operators, may be null (unbounded).
    WindowOp(WindowSpec spec, ExprNode key, StateBudget* budget = nullptr)
        : spec_(spec), key_(std::move(key)), budget_(budget) {}
    void apply(Batch& batch, OpContext& ctx) override;
    void flush(Batch& out, OpContext& ctx) override;
    size_t held() const override;
    uint64_t evicted() const override { return evicted_; }
    nlohmann::json save() const override;
    common::Status load(const nlohmann::json& state) override;

  private:
    struct State {
        std::deque<EventPtr> events;
        size_t bytes = 0;          ///< what `events` hold, as the state budget counts it
        int64_t start = 0;         ///< time tumbling: window start
        int64_t last_emit = 0;     ///< time sliding: time of the last emission
        int64_t since_emit = 0;    ///< count sliding: arrivals since the last emission
        bool emitted = false;
    };
    void add(const EventPtr& e, State& s, Batch& out);
    // Every event enters and leaves a partition through these, which keep the budget's count.
    void hold(State& s, const EventPtr& e);
    void drop_front(State& s);
    void emit_all(State& s, Batch& out);
    void release_all(State& s);
    /// Past the budget, give up held events of `s` (counted in evicted_).
    void keep_to_budget(State& s);

    WindowSpec spec_;
    ExprNode key_;
    StateBudget* budget_;
    uint64_t evicted_ = 0;
    PartitionMap<State> states_;
    std::string key_buffer_;
    Batch out_;  ///< reused between calls
};

}  // namespace varpulis::engine
